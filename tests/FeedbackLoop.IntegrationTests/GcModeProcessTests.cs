namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// <c>extract</c>'s first line names the GC the process really runs (ADR 0043): the executable turns the Server GC's dynamic
/// adaptation off, and an operator's <c>DOTNET_GCDynamicAdaptationMode=1</c> turns it back on.
/// </summary>
public sealed class GcModeProcessTests
{
    [Theory]
    [InlineData(null, null, "workstation GC)")]
    [InlineData("1", null, "server GC)")]
    [InlineData("1", "1", "server GC with dynamic adaptation)")]
    [InlineData(null, "1", "workstation GC)")]
    public async Task Extract_names_the_gc_it_runs_in_its_first_line(string? serverGc, string? dynamicAdaptation, string expected)
    {
        using var root = new TempFolder("gc-mode");
        var environment = new Dictionary<string, string>();
        if (serverGc is not null) environment["DOTNET_gcServer"] = serverGc;
        if (dynamicAdaptation is not null) environment["DOTNET_GCDynamicAdaptationMode"] = dynamicAdaptation;
        // Nothing listens on the bootstrap address: the line comes before any connection, and the process is killed after it.
        using var extract = CliProcess.Start(environment, "extract", "--bootstrap", "127.0.0.1:9", "--data", root.Path);

        Assert.True(await Eventually.TrueAsync(() => extract.ErrorLines.Any(l => l.StartsWith("Extracting from", StringComparison.Ordinal)), TimeSpan.FromSeconds(60)),
            $"no first line:\n{extract.Output}");

        var first = extract.ErrorLines.First(l => l.StartsWith("Extracting from", StringComparison.Ordinal));
        Assert.Contains(", " + expected, first, StringComparison.Ordinal);
    }
}
