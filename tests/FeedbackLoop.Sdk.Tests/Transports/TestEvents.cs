using System.Diagnostics;
using FeedbackLoop.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Sdk.Tests.Transports;

/// <summary>Contract events in their wire form, built the way the client builds them.</summary>
internal static class TestEvents
{
    private static readonly DateTimeOffset OccurredAt = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary><paramref name="count"/> events; with <paramref name="editedChars"/> each is an edit of that many characters.</summary>
    public static SerializedEvent[] Batch(int count, int editedChars = 0) =>
        [.. Enumerable.Range(0, count).Select(i => Serialize(new FeedbackEvent(
            Guid.CreateVersion7().ToString(), "app", "s" + (i % 3), "u1", OccurredAt,
            editedChars > 0 ? new GenerationEdited("g" + i, new string((char)('a' + (i % 26)), editedChars)) : new GenerationCopied("g" + i))))];

    public static SerializedEvent Serialize(FeedbackEvent evt) => new(evt.EventId, evt.SessionId, EventJson.SerializeToUtf8Bytes(evt));
}

/// <summary>Waits for conditions with a deadline instead of sleeping for a guessed duration.</summary>
internal static class Wait
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test at the deadline.</summary>
    public static async Task UntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < (timeout ?? TimeSpan.FromSeconds(10)), "the condition did not hold before the deadline");
            await Task.Delay(PollInterval);
        }
    }

    /// <summary>
    /// Moves a fake clock forward in <paramref name="step"/>s until <paramref name="work"/> completes, so
    /// that waits on that clock end; fails the test if it has not completed within 10 real seconds.
    /// </summary>
    public static async Task WhileAdvancingAsync(this FakeTimeProvider clock, Task work, TimeSpan step)
    {
        var deadline = Stopwatch.StartNew();
        while (!work.IsCompleted)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the work did not complete before the deadline");
            clock.Advance(step);
            await Task.WhenAny(work, Task.Delay(2));
        }
    }
}
