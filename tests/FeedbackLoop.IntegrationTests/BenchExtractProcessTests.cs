using System.Text.Json;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// <c>bench extract</c> as a process, small: the result file has the fields issue 11's goal and BENCHMARKS.md read, with values
/// a real run gives (rates and costs above zero, the rate ending at the final commit, the GC named as the process ran it, with the large-object threshold and the retained memory it ran with).
/// </summary>
public sealed class BenchExtractProcessTests
{
    [Fact]
    public async Task A_small_bench_writes_every_field_of_its_result()
    {
        using var root = new TempFolder("bench-extract");
        var output = root.Combine("extract.json");
        using var bench = CliProcess.Start(new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" },
            "bench", "extract", "--sessions", "300", "--partitions", "4", "--runs", "1", "--consumers", "1", "--out", output);

        var exit = await bench.ExitAsync(TimeSpan.FromMinutes(3));

        Assert.True(exit == 0, $"exit {exit}:\n{bench.Output}");
        using var result = JsonDocument.Parse(File.ReadAllText(output));
        var json = result.RootElement;
        foreach (var rate in new[] { "raw_consume_events_per_s", "extract_events_per_s", "raw_consume_cpu_us_per_event", "extract_cpu_us_per_event", "extract_alloc_bytes_per_event" })
            Assert.True(json.GetProperty(rate).GetDouble() > 0, $"{rate} = {json.GetProperty(rate)}");
        Assert.True(json.GetProperty("extract_exit_ms").GetDouble() >= 0);
        Assert.True(json.GetProperty("extract_gc_pause_ms").GetDouble() >= 0);
        Assert.Equal(json.GetProperty("extract_events_per_s").GetDouble(), json.GetProperty("extract_runs")[0].GetDouble());
        // One loop is the whole group: its group never forms twice, so no run is set aside.
        Assert.Equal(0, json.GetProperty("extract_rebalanced_runs").GetArrayLength());
        Assert.Equal(("server", false, 4, 1), (json.GetProperty("gc").GetString(), json.GetProperty("gc_dynamic_adaptation").GetBoolean(),
            json.GetProperty("partitions").GetInt32(), json.GetProperty("consumers").GetInt32()));
        // The executable's runtime configuration asks for 4 MiB (ADR 0048); the GC keeps it, rounded down to its alignment.
        var largeObjectThreshold = json.GetProperty("gc_loh_threshold_bytes").GetInt64();
        Assert.InRange(largeObjectThreshold, 4 * 1024 * 1024 - 1024, 4 * 1024 * 1024);
        // It also keeps the memory its GC frees (ADR 0049), and the result says so, read back from the runtime.
        Assert.True(json.GetProperty("gc_retain_vm").GetBoolean());
        Assert.True(json.GetProperty("events").GetInt64() > 300, "every synthetic session has several events");
        Assert.StartsWith($"{Environment.ProcessorCount} cores, ", json.GetProperty("machine").GetString(), StringComparison.Ordinal);
    }
}
