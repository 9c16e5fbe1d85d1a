using MassTransit.Testing;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>
/// What MassTransit's test harness has recorded so far, read as it is. The harness's own <c>Any</c>, <c>Select</c> and
/// <c>Count</c> keep waiting until the bus has been quiet for a while (or its test timeout passes) before they answer
/// "nothing more": a timed wait, and a long one while a job beats. Tests wait for what they expect with
/// <see cref="Eventually"/> and read these snapshots; an absence is asserted on a snapshot taken after a later event
/// that proves the awaited one would have come first.
/// </summary>
internal static class HarnessRecords
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    // An already-cancelled token makes the harness's lists give what they hold and stop instead of waiting for more.
    private static readonly CancellationToken AsTheyAre = new(canceled: true);

    /// <summary>The messages of type <typeparamref name="T"/> published so far, in the order they were published.</summary>
    public static IReadOnlyList<T> PublishedSoFar<T>(this ITestHarness harness) where T : class =>
        [.. harness.Published.Select<T>(AsTheyAre).Select(m => m.Context.Message)];

    /// <summary>Every message published so far, of any type, in the order they were published.</summary>
    public static IReadOnlyList<object> AllPublishedSoFar(this ITestHarness harness) =>
        [.. harness.Published.Select(_ => true, AsTheyAre).Select(m => m.MessageObject)];

    /// <summary>The messages of type <typeparamref name="T"/> sent (to a queue) so far.</summary>
    public static IReadOnlyList<T> SentSoFar<T>(this ITestHarness harness) where T : class =>
        [.. harness.Sent.Select<T>(AsTheyAre).Select(m => m.Context.Message)];

    /// <summary>
    /// The messages of type <typeparamref name="T"/> whose consumers have returned so far (the harness records a message
    /// as consumed after its consumer ends), with the exception each consumer threw, if any.
    /// </summary>
    public static IReadOnlyList<(T Message, Exception? Fault)> ConsumedSoFar<T>(this ITestHarness harness) where T : class =>
        [.. harness.Consumed.Select<T>(AsTheyAre).Select(m => (m.Context.Message, m.Exception))];

    /// <summary>Waits until a message of type <typeparamref name="T"/> that matches has been published, and returns it.</summary>
    public static async Task<T> PublishedAsync<T>(this ITestHarness harness, Func<T, bool> match, TimeSpan? timeout = null) where T : class
    {
        await Eventually.HoldsAsync(() => harness.PublishedSoFar<T>().Any(match), timeout ?? DefaultTimeout, $"a matching {typeof(T).Name} published");
        return harness.PublishedSoFar<T>().First(match);
    }

    /// <summary>Waits until the consumer of a message of type <typeparamref name="T"/> that matches has returned, and returns what it threw, if anything.</summary>
    public static async Task<Exception?> ConsumedAsync<T>(this ITestHarness harness, Func<T, bool> match, TimeSpan? timeout = null) where T : class
    {
        await Eventually.HoldsAsync(() => harness.ConsumedSoFar<T>().Any(m => match(m.Message)), timeout ?? DefaultTimeout, $"a matching {typeof(T).Name} consumed");
        return harness.ConsumedSoFar<T>().First(m => match(m.Message)).Fault;
    }
}
