using System.Text.Json;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Status;

namespace FeedbackLoop.IntegrationTests;

/// <summary><c>extract status</c>: the extractors' committed offsets against each partition's log, from outside.</summary>
public sealed class ExtractStatusTests
{
    [Theory]
    // committed, log start, log end → resumes at, lag, lost, state
    [InlineData(null, 0L, 0L, 0L, 0L, 0L, PartitionState.NoCommit)]
    [InlineData(null, 0L, 40L, 0L, 40L, 0L, PartitionState.NoCommit)]
    [InlineData(null, 10L, 40L, 10L, 30L, 0L, PartitionState.NoCommit)]
    [InlineData(40L, 0L, 40L, 40L, 0L, 0L, PartitionState.CaughtUp)]
    [InlineData(25L, 0L, 40L, 25L, 15L, 0L, PartitionState.Lagging)]
    [InlineData(25L, 25L, 40L, 25L, 15L, 0L, PartitionState.Lagging)]
    // Retention deleted offsets 5..29 before the group read them: they are lost, not lag.
    [InlineData(5L, 30L, 40L, 30L, 10L, 25L, PartitionState.RecordsLost)]
    [InlineData(5L, 40L, 40L, 40L, 0L, 35L, PartitionState.RecordsLost)]
    public void Lag_and_loss_follow_from_the_offsets(long? committed, long logStart, long logEnd, long resumesAt, long lag, long lost, PartitionState state)
    {
        var partition = new PartitionLag(0, committed, logStart, logEnd);
        Assert.Equal((resumesAt, lag, lost, state), (partition.ResumesAt, partition.Lag, partition.Lost, partition.State));
    }

    [Fact]
    public async Task Reports_each_partitions_lag_after_an_extract_and_new_events_and_disturbs_nothing()
    {
        using var cluster = EmbeddedKafkaCluster.StartWithFeedbackLoopTopics(eventPartitions: 3);
        using var data = new TempFolder("status");
        var before = await StatusAsync(cluster.BootstrapServers);
        Assert.All(before.GetProperty("partitions").EnumerateArray(), p => Assert.Equal("no_commit", p.GetProperty("state").GetString()));

        KnownSessions.ProduceSideBySide(cluster.BootstrapServers, 30);
        using (var extract = CliProcess.Start("extract", "--bootstrap", cluster.BootstrapServers, "--data", data, "--until-idle", "2"))
        {
            var exit = await extract.ExitAsync(TimeSpan.FromMinutes(2));
            Assert.True(exit == 0, extract.Output);
        }
        var caughtUp = await StatusAsync(cluster.BootstrapServers);
        Assert.Equal(0, caughtUp.GetProperty("lag").GetInt64());
        var ends = caughtUp.GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("log_end").GetInt64()).ToList();
        Assert.Equal(30 * 4, ends.Sum()); // four events a session: two shown, the choice, the end
        Assert.All(caughtUp.GetProperty("partitions").EnumerateArray(), p =>
            Assert.Equal((p.GetProperty("log_end").GetInt64(), "caught_up"), (p.GetProperty("committed").GetInt64(), p.GetProperty("state").GetString())));

        // New events nobody read yet: the lag is exactly them, per partition and in all.
        KnownSessions.ProduceSideBySide(cluster.BootstrapServers, 10);
        var lagging = await StatusAsync(cluster.BootstrapServers);
        Assert.Equal(10 * 4, lagging.GetProperty("lag").GetInt64());
        Assert.All(lagging.GetProperty("partitions").EnumerateArray(), p =>
            Assert.Equal(p.GetProperty("log_end").GetInt64() - p.GetProperty("committed").GetInt64(), p.GetProperty("lag").GetInt64()));

        // Reading the status committed nothing on the group's behalf.
        var again = await StatusAsync(cluster.BootstrapServers);
        Assert.Equal(
            lagging.GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("committed").GetInt64()),
            again.GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("committed").GetInt64()));

        // The table says the same for people.
        using var table = CliProcess.Start("extract", "status", "--bootstrap", cluster.BootstrapServers);
        Assert.Equal(0, await table.ExitAsync(TimeSpan.FromSeconds(60)));
        Assert.StartsWith("group feedbackloop-extractors on feedbackloop.events.v1:", table.Output.TrimStart(), StringComparison.Ordinal);
        Assert.Contains("lag 40, lost 0", table.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_cluster_is_one_clear_error_and_exit_1()
    {
        using var status = CliProcess.Start("extract", "status", "--bootstrap", "127.0.0.1:1");
        Assert.Equal(1, await status.ExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("Kafka at 127.0.0.1:1", status.Output, StringComparison.Ordinal);
    }

    private static async Task<JsonElement> StatusAsync(string bootstrap)
    {
        using var status = CliProcess.Start("extract", "status", "--bootstrap", bootstrap, "--json");
        var exit = await status.ExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, status.Output);
        return JsonDocument.Parse(status.Output).RootElement.Clone();
    }
}
