using FeedbackLoop.Orchestration.Store;
using Microsoft.Extensions.Configuration;

namespace FeedbackLoop.Orchestration.Hosting;

/// <summary>
/// Where every command finds the data folder and the store, resolved one way for all of them: the command's option,
/// then the environment (<c>FEEDBACKLOOP_DATA</c>, <c>FEEDBACKLOOP_STORE</c>), then the configuration file
/// (<c>FeedbackLoop:Data</c>, <c>FeedbackLoop:Store</c>), then the defaults. The default store is not inside the data
/// folder: the data folder is shared between machines, and the store (SQLite in WAL mode) must stay on a local disk.
/// </summary>
public sealed record LoopLocations(string Data, string Store)
{
    /// <summary>Environment variable naming the data folder.</summary>
    public const string DataVariable = "FEEDBACKLOOP_DATA";

    /// <summary>Environment variable naming the store: the file (registry.db), or a PostgreSQL database (<see cref="StoreLocation"/>).</summary>
    public const string StoreVariable = "FEEDBACKLOOP_STORE";

    /// <summary>Configuration key of the data folder.</summary>
    public const string DataKey = "FeedbackLoop:Data";

    /// <summary>Configuration key of the store file.</summary>
    public const string StoreKey = "FeedbackLoop:Store";

    /// <summary>The data folder when nothing names one (relative to the working folder).</summary>
    public const string DefaultData = "feedbackloop-data";

    /// <summary>
    /// The store when nothing names one: <c>$XDG_STATE_HOME/feedbackloop/registry.db</c>, or
    /// <c>~/.local/state/feedbackloop/registry.db</c>: on the local disk, and the same for <c>serve</c> and for the
    /// <c>jobs</c>/<c>models</c> commands run by the same user on that machine, from any folder.
    /// </summary>
    public static string DefaultStore(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var state = environment("XDG_STATE_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)
            ? xdg
            : Path.Combine(environment("HOME") is { Length: > 0 } home ? home : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "state");
        return Path.Combine(state, "feedbackloop", "registry.db");
    }

    /// <summary>
    /// Resolves both locations: the data folder as an absolute path, the store as <see cref="StoreLocation.Text"/> (an
    /// absolute path, or a PostgreSQL connection string without a password). <paramref name="configuration"/> is read for the file's keys
    /// only (the environment variables come from <paramref name="environment"/>, so a test can pass its own).
    /// </summary>
    /// <exception cref="ArgumentException">The store is a malformed PostgreSQL location, or one that carries a password.</exception>
    public static LoopLocations Resolve(string? dataOption, string? storeOption, IConfiguration configuration, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(environment);
        var data = First(dataOption, environment(DataVariable), configuration[DataKey]) ?? DefaultData;
        var store = First(storeOption, environment(StoreVariable), configuration[StoreKey]) ?? DefaultStore(environment);
        return new LoopLocations(Path.GetFullPath(data), StoreLocation.Parse(store).Text);
    }

    /// <summary>Resolves with the process's own environment and configuration files (<see cref="LoopConfiguration.Files"/>).</summary>
    public static LoopLocations Resolve(string? dataOption, string? storeOption) =>
        Resolve(dataOption, storeOption, LoopConfiguration.Files(), Environment.GetEnvironmentVariable);

    private static string? First(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
}

/// <summary>The configuration files every command reads, hosted or not.</summary>
public static class LoopConfiguration
{
    /// <summary>Environment variable naming one more configuration file (JSON), read after appsettings.json.</summary>
    public const string FileVariable = "FEEDBACKLOOP_CONFIG";

    /// <summary>
    /// <c>appsettings.json</c> in the working folder, then the file <c>FEEDBACKLOOP_CONFIG</c> names (if any); a later
    /// file wins. Hosted commands read the same files, then the environment and the command line on top.
    /// </summary>
    public static IConfigurationRoot Files() => new ConfigurationBuilder().AddLoopFiles().Build();

    /// <summary>Adds the files of <see cref="Files"/> to <paramref name="builder"/>.</summary>
    public static IConfigurationBuilder AddLoopFiles(this IConfigurationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddJsonFile(Path.Combine(Environment.CurrentDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        if (Environment.GetEnvironmentVariable(FileVariable) is { Length: > 0 } file)
        {
            builder.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        }

        return builder;
    }
}
