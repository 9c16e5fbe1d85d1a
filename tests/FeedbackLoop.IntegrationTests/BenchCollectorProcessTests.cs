using System.Text.Json;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// <c>bench collector</c> as a process, short: the result file has the four fields issue 12 names, every batch was
/// answered 200 after Kafka's acknowledgement, and the reference runs (bare endpoint, Kafka alone) measured something.
/// </summary>
public sealed class BenchCollectorProcessTests
{
    [Fact]
    public async Task A_short_bench_writes_every_field_of_its_result()
    {
        using var root = new TempFolder("bench-collector");
        var output = root.Combine("collector.json");
        using var bench = CliProcess.Start("bench", "collector", "--clients", "4", "--seconds", "1", "--out", output);

        var exit = await bench.ExitAsync(TimeSpan.FromMinutes(3));

        Assert.True(exit == 0, $"exit {exit}:\n{bench.Output}");
        using var result = JsonDocument.Parse(File.ReadAllText(output));
        var json = result.RootElement;
        foreach (var measure in new[] { "events_per_s", "bare_events_per_s", "p99_ms", "cpu_us_per_event", "bare_cpu_us_per_event", "kafka_only_events_per_s", "kafka_only_cpu_us_per_event" })
            Assert.True(json.GetProperty(measure).GetDouble() > 0, $"{measure} = {json.GetProperty(measure)}");
        Assert.Equal((0, 4, 100), (json.GetProperty("not_200").GetInt32(), json.GetProperty("clients").GetInt32(), json.GetProperty("events_per_batch").GetInt32()));
        Assert.StartsWith($"{Environment.ProcessorCount} cores, ", json.GetProperty("machine").GetString(), StringComparison.Ordinal);
    }
}
