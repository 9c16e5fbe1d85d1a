using Npgsql;

namespace FeedbackLoop.Orchestration.Store;

/// <summary>
/// Where a store lives, as <c>--store</c> names it: a plain path is a SQLite file (the embedded default);
/// <c>postgres://user@host:port/database</c> (or <c>postgresql://</c>) or an Npgsql connection string (<c>Host=…;…</c>) is a
/// PostgreSQL database. The password never comes from the location (a command line is visible to every user of the
/// machine, and it would end up in logs): it comes from <see cref="PasswordVariable"/>, from the file
/// <see cref="PasswordFileVariable"/> names, or from what Npgsql itself reads (PGPASSWORD, ~/.pgpass).
/// </summary>
public sealed record StoreLocation
{
    /// <summary>The PostgreSQL password of the store.</summary>
    public const string PasswordVariable = "FEEDBACKLOOP_STORE_PASSWORD";

    /// <summary>A file holding the PostgreSQL password of the store (a mounted secret); its trailing line break is ignored.</summary>
    public const string PasswordFileVariable = "FEEDBACKLOOP_STORE_PASSWORD_FILE";

    private StoreLocation(StoreEngine engine, string text)
    {
        Engine = engine;
        Text = text;
    }

    /// <summary>The engine.</summary>
    public StoreEngine Engine { get; }

    /// <summary>
    /// The location without any secret: the SQLite file's full path, or the PostgreSQL connection string without a password.
    /// Safe to print and to pass to another process (which reads the password from its own environment).
    /// </summary>
    public string Text { get; }

    /// <summary>Reads a <c>--store</c> value.</summary>
    /// <exception cref="ArgumentException">The value is empty, malformed, or carries a password.</exception>
    public static StoreLocation Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return FromUri(value);
        }

        if (LooksLikeConnectionString(value))
        {
            NpgsqlConnectionStringBuilder builder;
            try
            {
                builder = new NpgsqlConnectionStringBuilder(value);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--store: not a valid PostgreSQL connection string: {e.Message}", nameof(value));
            }

            return FromBuilder(builder);
        }

        return new StoreLocation(StoreEngine.Sqlite, Path.GetFullPath(value));
    }

    /// <summary>
    /// The connection string to open: <see cref="Text"/> with the password from the environment, when one is set there.
    /// </summary>
    /// <exception cref="InvalidOperationException">The password file cannot be read.</exception>
    internal string ConnectionStringWithSecret()
    {
        var builder = new NpgsqlConnectionStringBuilder(Text);
        if (Environment.GetEnvironmentVariable(PasswordVariable) is { Length: > 0 } password)
        {
            builder.Password = password;
        }
        else if (Environment.GetEnvironmentVariable(PasswordFileVariable) is { Length: > 0 } file)
        {
            try
            {
                builder.Password = File.ReadAllText(file).TrimEnd('\r', '\n');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"{PasswordFileVariable} names {file}, which cannot be read: {e.Message}", e);
            }
        }

        return builder.ConnectionString;
    }

    /// <inheritdoc />
    public override string ToString() => Text;

    private static bool LooksLikeConnectionString(string value) =>
        value.Contains('=', StringComparison.Ordinal)
        && (value.Contains("host=", StringComparison.OrdinalIgnoreCase) || value.Contains("server=", StringComparison.OrdinalIgnoreCase));

    private static StoreLocation FromUri(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            throw new ArgumentException("--store: a PostgreSQL store is postgres://user@host:port/database", nameof(value));
        }

        var userInfo = Uri.UnescapeDataString(uri.UserInfo);
        if (userInfo.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException(
                $"--store: the PostgreSQL password must not be on the command line; set {PasswordVariable} (or {PasswordFileVariable}, or PGPASSWORD)",
                nameof(value));
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0 || database.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException("--store: name the database: postgres://user@host:port/database", nameof(value));
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = database,
        };
        if (userInfo.Length > 0)
        {
            builder.Username = userInfo;
        }

        // Query parameters are Npgsql settings (sslmode=require, say).
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(parts[0]);
            try
            {
                builder[key] = parts.Length == 2 ? Uri.UnescapeDataString(parts[1]) : "true";
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--store: unknown PostgreSQL setting '{key}': {e.Message}", nameof(value));
            }
        }

        return FromBuilder(builder);
    }

    private static StoreLocation FromBuilder(NpgsqlConnectionStringBuilder builder)
    {
        if (!string.IsNullOrEmpty(builder.Password))
        {
            throw new ArgumentException(
                $"--store: the PostgreSQL password must not be on the command line; set {PasswordVariable} (or {PasswordFileVariable}, or PGPASSWORD)",
                nameof(builder));
        }

        if (string.IsNullOrEmpty(builder.Host) || string.IsNullOrEmpty(builder.Database))
        {
            throw new ArgumentException("--store: a PostgreSQL store needs a host and a database", nameof(builder));
        }

        return new StoreLocation(StoreEngine.PostgreSql, builder.ConnectionString);
    }
}
