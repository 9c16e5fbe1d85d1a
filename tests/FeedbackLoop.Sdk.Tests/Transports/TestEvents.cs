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

/// <summary>Moves a fake clock while real work runs, so that the work's waits on that clock end.</summary>
internal static class FakeClockExtensions
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Moves <paramref name="clock"/> forward in <paramref name="step"/>s until <paramref name="work"/> completes; fails
    /// the test if it has not completed within 10 real seconds. With <paramref name="atMost"/>, the clock stops that far
    /// from where it was and the work must complete there: a test that asserts when the work ended on the fake clock then
    /// does not depend on how soon, in real time, the work's continuations ran (on a busy machine the clock could move a
    /// step or two past the moment the work was cut off before the completion was seen).
    /// </summary>
    public static Task WhileAdvancingAsync(this FakeTimeProvider clock, Task work, TimeSpan step, TimeSpan? atMost = null)
    {
        var end = atMost is { } limit ? clock.GetUtcNow() + limit : DateTimeOffset.MaxValue;
        return Eventually.HoldsAsync(() =>
        {
            if (work.IsCompleted) return true;
            if (clock.GetUtcNow() + step <= end) clock.Advance(step);
            return false;
        }, TimeSpan.FromSeconds(10), "the work's completion", pollInterval: Step);
    }
}
