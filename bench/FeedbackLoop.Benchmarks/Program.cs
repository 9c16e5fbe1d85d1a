using System.Globalization;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using FeedbackLoop.Benchmarks;

// `dotnet run -c Release --project bench/FeedbackLoop.Benchmarks -- sdk` measures the SDK's hot path against
// OpenTelemetry and writes bench-results/sdk.json (+ sdk.md, the table for docs/BENCHMARKS.md).
// Anything else is handed to BenchmarkDotNet's own switcher (`-- --list flat`, `-- --filter *Track*`).
if (args is ["sdk", ..])
{
    var quick = args.Contains("--quick");
    var job = quick ? Job.ShortRun : Job.Default.WithWarmupCount(5).WithIterationCount(30);
    // The generated project's build gets 10 minutes, not BenchmarkDotNet's 2: on two shared cores a parallel
    // build can hold it up that long, and a timed-out build yields no numbers at all.
    var config = DefaultConfig.Instance.AddJob(job.WithId(quick ? "quick" : "sdk")).WithOptions(ConfigOptions.DisableOptimizationsValidator)
        .WithBuildTimeout(TimeSpan.FromMinutes(10));
    var summary = BenchmarkRunner.Run<SdkTrackBenchmarks>(config);
    return SdkReport.Write(summary);
}
BenchmarkSwitcher.FromAssembly(typeof(SdkTrackBenchmarks).Assembly).Run(args);
return 0;

/// <summary>Turns the BenchmarkDotNet summary into the numbers the issue asks for.</summary>
internal static class SdkReport
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static string CpuName() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";

    public static int Write(Summary summary)
    {
        double? Median(string method) => Report(method)?.ResultStatistics?.Median;
        double? CallerAllocated(string method) =>
            File.Exists(SdkTrackBenchmarks.CallerAllocFile(method)) ? double.Parse(File.ReadAllText(SdkTrackBenchmarks.CallerAllocFile(method)), CultureInfo.InvariantCulture) : null;
        BenchmarkReport? Report(string method) => summary.Reports.FirstOrDefault(r => r.BenchmarkCase.Descriptor.WorkloadMethod.Name == method);

        // The headline numbers are the steady state: both background sides running and serializing, time as
        // BenchmarkDotNet's median, bytes as allocated on the calling thread (BenchmarkDotNet's own column
        // counts every thread; it is in the table too).
        if (Median("TrackLive") is not { } trackNs || Median("OtelLive") is not { } otelNs)
        {
            Console.Error.WriteLine("The TrackLive or OtelLive benchmark produced no result; see the BenchmarkDotNet log above.");
            return 1;
        }
        var result = new Dictionary<string, object?>
        {
            ["track_ns"] = Math.Round(trackNs, 1),
            ["track_alloc_bytes"] = CallerAllocated("TrackLive") is { } ta ? (long)Math.Round(ta) : null,
            ["otel_ns"] = Math.Round(otelNs, 1),
            ["otel_alloc_bytes"] = CallerAllocated("OtelLive") is { } oa ? (long)Math.Round(oa) : null,
            ["track_parked_ns"] = Median("Track") is { } parked ? Math.Round(parked, 1) : null,
            ["track_in_span_parked_ns"] = Median("TrackInSpan") is { } inSpan ? Math.Round(inSpan, 1) : null,
            ["track_in_span_alloc_bytes"] = CallerAllocated("TrackInSpan") is { } ia ? (long)Math.Round(ia) : null,
            ["shown_parked_ns"] = Median("Shown") is { } shown ? Math.Round(shown, 1) : null,
            ["shown_alloc_bytes"] = CallerAllocated("Shown") is { } sa ? (long)Math.Round(sa) : null,
            ["otel_parked_ns"] = Median("Otel") is { } otelParked ? Math.Round(otelParked, 1) : null,
            ["machine"] = $"{Environment.ProcessorCount} cores, {CpuName()}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}",
            ["measured_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        var folder = Path.Combine(RepositoryRoot(), "bench-results");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "sdk.json"), JsonSerializer.Serialize(result, Indented) + "\n");

        var table = new StringBuilder("| call | median ns | caller-thread B/call | all threads B/call (BenchmarkDotNet) |\n|---|---:|---:|---:|\n");
        foreach (var report in summary.Reports)
        {
            var method = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
            var name = report.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo.Trim('\'');
            table.Append(CultureInfo.InvariantCulture,
                $"| {name} | {report.ResultStatistics?.Median:0.0} | {CallerAllocated(method):0.#} | {report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase)} |\n");
        }
        File.WriteAllText(Path.Combine(folder, "sdk.md"), table.ToString());
        Console.WriteLine(File.ReadAllText(Path.Combine(folder, "sdk.json")));
        Console.WriteLine(table);
        return 0;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FeedbackLoop.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}
