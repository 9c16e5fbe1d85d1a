using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;
using FeedbackLoop.Cli.Commands;
using FeedbackLoop.Datasets;

namespace FeedbackLoop.IntegrationTests.Packaging;

/// <summary>
/// The SDK as a user installs it: the four packages are packed into a folder, a fresh app (Packaging/Consumer, copied out
/// of the repository so none of its build files apply) restores them from that folder and the machine's usual feed,
/// builds, and runs against the embedded broker as its own process; <c>extract</c> then writes the pair and labels the
/// app's feedback makes. A package that lacks a dependency, a type or its metadata fails here, not at a user's restore.
/// </summary>
public sealed class PackageConsumerTests : IDisposable
{
    private static readonly string[] Packages = ["FeedbackLoop.Contracts", "FeedbackLoop.Sdk", "FeedbackLoop.Sdk.AI", "FeedbackLoop.Sdk.Kafka"];
    // pack and a cold restore take a minute or two on an idle machine, five and more on a loaded 2-core one.
    private static readonly TimeSpan ToolDeadline = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(10);

    private readonly TempFolder _root = new("package-consumer");

    // A version of its own per run: the global NuGet cache keeps a package by id and version, so a fixed version would
    // hand this run the previous run's build. The run's entries are removed from the cache afterwards.
    private readonly string _version = $"1.1.0-consumertest.{DateTime.UtcNow:yyyyMMddHHmmss}{Random.Shared.Next(100, 999)}";

    [Fact]
    public async Task Packed_packages_restore_into_a_fresh_app_whose_feedback_extract_turns_into_a_pair_and_labels()
    {
        var repository = RepositoryFolder.Root;
        var feed = Directory.CreateDirectory(_root.Combine("feed")).FullName;
        await RunAsync(repository, ["pack", Path.Combine(repository, "FeedbackLoop.Packages.slnf"), "-c", "Release", "-o", feed, $"-p:PackageVersion={_version}"]);
        AssertPackagesComplete(feed);

        var app = _root.Combine("app");
        CopyFolder(Path.Combine(AppContext.BaseDirectory, "Packaging", "Consumer"), app);
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="feedbackloop-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        await RunAsync(app, ["build", "-c", "Release", $"-p:FeedbackLoopVersion={_version}", $"-p:HostingVersion={CentralVersion(repository, "Microsoft.Extensions.Hosting")}"]);

        using var broker = CliProcess.Start("broker", "--brokers", "1", "--partitions", "4");
        var bootstrap = (await broker.FirstStdoutLineAsync(TimeSpan.FromSeconds(60)))[BrokerCommand.BootstrapLinePrefix.Length..];
        var appOutput = await RunAsync(app, [Path.Combine(app, "bin", "Release", "net10.0", "Consumer.dll")], new()
        {
            ["FeedbackLoop__AppId"] = "consumer-app",
            ["FeedbackLoop__Kafka__BootstrapServers"] = bootstrap,
        }, TimeSpan.FromSeconds(90));
        // Two generation.shown from the middleware, two thumbs and the session's end.
        Assert.True(appOutput.Contains("consumer: delivered=True sent=5", StringComparison.Ordinal), $"the app did not deliver its 5 events:\n{appOutput}");

        var data = _root.Combine("data");
        using (var extract = CliProcess.Start("extract", "--bootstrap", bootstrap, "--data", data, "--until-idle", "3"))
        {
            var exit = await extract.ExitAsync(TimeSpan.FromSeconds(120));
            Assert.True(exit == 0, $"extract exit {exit}:\n{extract.Output}");
            Assert.Contains("sessions still open 0 ", extract.Output, StringComparison.Ordinal); // session.ended closed it
        }
        await broker.TerminateAsync(StopDeadline);

        var pair = Assert.Single(await DatasetReader.ReadPairsAsync(data, "consumer-app"));
        Assert.Equal("Budget is approved; hiring starts in May.", pair.Chosen.Content);
        Assert.Equal("The memo says nothing.", pair.Rejected.Content);
        Assert.Equal("Summarize the memo", Assert.Single(pair.Prompt).Content);
        var labels = await DatasetReader.ReadLabelsAsync(data, "consumer-app");
        Assert.Equal([false, true], labels.OrderBy(l => l.Label).Select(l => l.Label));
    }

    /// <summary>Each package has its readme, licence, repository, symbols, and builds for net8.0 (LTS) and net10.0.</summary>
    private void AssertPackagesComplete(string feed)
    {
        foreach (var id in Packages)
        {
            var package = Path.Combine(feed, $"{id}.{_version}.nupkg");
            Assert.True(File.Exists(package), $"{id} was not packed: {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");
            Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), $"{id} has no symbol package");
            using var zip = ZipFile.OpenRead(package);
            Assert.NotNull(zip.GetEntry("README.md"));
            using var nuspecStream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
            var metadata = XDocument.Load(nuspecStream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string? Field(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value;
            Assert.Equal("MIT", Field("license"));
            Assert.Equal("README.md", Field("readme"));
            Assert.False(string.IsNullOrWhiteSpace(Field("description")), $"{id} has no description");
            Assert.False(string.IsNullOrWhiteSpace(Field("tags")), $"{id} has no tags");
            Assert.False(string.IsNullOrWhiteSpace(Field("projectUrl")), $"{id} has no project URL");
            Assert.NotNull(metadata.Elements().SingleOrDefault(e => e.Name.LocalName == "repository"));
            Assert.Contains(zip.Entries, e => e.FullName == $"lib/net10.0/{id}.dll");
            Assert.Contains(zip.Entries, e => e.FullName == $"lib/net8.0/{id}.dll");
            // The net8.0 build compiles Polyfill's sources in; the package must not make apps depend on it.
            Assert.DoesNotContain(metadata.Descendants().Where(e => e.Name.LocalName == "dependency"), d => (string?)d.Attribute("id") == "Polyfill");
        }
    }


    /// <summary>The version Directory.Packages.props pins for <paramref name="package"/>, so the app uses what the repository tests.</summary>
    private static string CentralVersion(string repository, string package) =>
        XDocument.Load(Path.Combine(repository, "Directory.Packages.props")).Descendants("PackageVersion")
            .Single(e => (string?)e.Attribute("Include") == package).Attribute("Version")!.Value;

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/>; a non-zero exit or a pass of the deadline fails with the output.</summary>
    private static async Task<string> RunAsync(string workingDirectory, string[] arguments, Dictionary<string, string>? environment = null, TimeSpan? deadline = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        // The test host's MSBuild variables would point the child's build at the test run's own SDK process state.
        foreach (var variable in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH" }) start.Environment.Remove(variable);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment ?? []) start.Environment[name] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(deadline ?? ToolDeadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} did not finish within {(deadline ?? ToolDeadline).TotalSeconds:0} s:\n{output}");
        }
        process.WaitForExit();
        var text = output.ToString();
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}:\n{text}");
        return text;
    }

    public void Dispose()
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in Packages)
        {
            try { Directory.Delete(Path.Combine(cache, id.ToLowerInvariant(), _version), recursive: true); }
            catch (DirectoryNotFoundException) { }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        _root.Dispose();
    }
}
