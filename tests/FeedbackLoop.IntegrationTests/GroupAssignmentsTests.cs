using FeedbackLoop.Datasets;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Extraction;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// <see cref="ExtractionProgress.Assignments"/> counts the assignments the group gave a loop: one while the group never
/// changed, more once another member joined. <c>bench extract</c> sets aside a run in which it grew past one.
/// </summary>
public sealed class GroupAssignmentsTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_loop_alone_is_assigned_once_and_again_when_a_second_member_joins()
    {
        using var harness = new PipelineHarness(fixture.Cluster, partitions: 4);
        var group = "assignments-" + Guid.NewGuid().ToString("N");
        ExtractionLoop Loop(int consumer) =>
            new(harness.Options(group) with { UntilIdle = null, Consumer = consumer }, new DatasetStore(harness.DataRoot), NullLogger.Instance);
        var first = Loop(1);
        var second = Loop(2);
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var firstRun = first.RunAsync(stop.Token);

        Assert.True(await Eventually.TrueAsync(() => first.AssignedPartitions == 4, Deadline), "the first loop was never given the topic");
        Assert.Equal(1, first.Progress.Assignments);

        var secondRun = second.RunAsync(stop.Token);
        Assert.True(await Eventually.TrueAsync(() => first.AssignedPartitions > 0 && second.AssignedPartitions > 0
            && first.AssignedPartitions + second.AssignedPartitions == 4, Deadline), "the group never split the partitions");
        await stop.CancelAsync();
        await Task.WhenAll(firstRun, secondRun);

        // The first loop gave its partitions back and was assigned again; the second joined an existing group.
        Assert.True(first.Progress.Assignments >= 2, $"first loop: {first.Progress.Assignments} assignments");
        Assert.True(second.Progress.Assignments >= 1, $"second loop: {second.Progress.Assignments} assignments");
    }
}
