using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// An open session creates only the collections its events need (<see cref="SessionState"/>): sessions outlive garbage
/// collections, so every empty collection made up front was copied between generations for nothing. Reading a session (the
/// rules, the engagement count, its resolution, the checkpoint) must not create one, and a restored session holds exactly
/// the collections of the one that was checkpointed.
/// </summary>
public sealed class SessionCollectionsTests
{
    public static TheoryData<string, string> Sessions => new()
    {
        { "shown", "Shown" },
        { "shown, dwell, copy", "Positive Shown" }, // a copy is a positive signal
        { "thumb up", "Positive Shown Thumbs" },
        { "thumb down", "Shown Thumbs" },
        { "rating", "Positive Ratings Shown" },
        { "regenerated", "ReplacedBy Replaces Shown" },
        { "edit before its generation", "PendingEdits" },
        { "edit pairs", "EmittedPairs PairsBySignal Shown" },
        { "candidate set chosen", "CandidateSets Choices EmittedPairs PairsBySignal Shown" },
        { "thumb on an unseen generation", "Positive Thumbs" },
        { "choice before its generations", "Choices" },
    };

    private static SessionScript Script(string name) => name switch
    {
        "shown" => new SessionScript("s").Shown("g1").Shown("g2"),
        "shown, dwell, copy" => new SessionScript("s").Shown("g1").Dwelled("g1", 800).Copied("g1"),
        "thumb up" => new SessionScript("s").Shown("g1").ThumbUp("g1"),
        "thumb down" => new SessionScript("s").Shown("g1").ThumbDown("g1"),
        "rating" => new SessionScript("s").Shown("g1").Rated("g1", 5),
        "regenerated" => new SessionScript("s").Shown("g1").Regenerated("g1", "g2").Shown("g2"),
        "edit before its generation" => new SessionScript("s").Edited("g1", "Answer g1, corrected"),
        "edit pairs" => new SessionScript("s").Shown("g1").Edited("g1", "Answer g1, corrected"),
        "candidate set chosen" => new SessionScript("s").Shown("x", candidateSet: "cs").Shown("y", candidateSet: "cs").Chose("cs", "x"),
        "thumb on an unseen generation" => new SessionScript("s").ThumbUp("g9"),
        "choice before its generations" => new SessionScript("s").Chose("cs", "x"),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Sessions))]
    public void A_session_holds_only_the_collections_its_events_used_before_and_after_a_checkpoint(string name, string expected)
    {
        var events = Script(name).Events;
        var running = new Extractor(new ExtractionSettings());
        for (var i = 0; i < events.Count; i++) running.Process(0, i, events[i], events[i].OccurredAt);
        running.Sweep();
        var body = running.CheckpointPartition(0)!.Value.ToArray();
        var restored = new Extractor(new ExtractionSettings());
        Assert.Null(restored.RestorePartition(0, body));

        Assert.Equal(expected, Used(Assert.Single(running.SessionsOf(0))));
        Assert.Equal(expected, Used(Assert.Single(restored.SessionsOf(0))));
        // Writing the checkpoint read every collection; still none was created, and the restored one writes the same bytes.
        Assert.Equal(body, restored.CheckpointPartition(0)?.ToArray());
        Assert.Equal(expected, Used(Assert.Single(running.SessionsOf(0))));
    }

    /// <summary>The names of the session's collections that exist, in order (the <c>…IfAny</c> twins that are not null).</summary>
    private static string Used(SessionState session) =>
        string.Join(' ', typeof(SessionState).GetProperties()
            .Where(p => p.Name.EndsWith("IfAny", StringComparison.Ordinal) && p.GetValue(session) is not null)
            .Select(p => p.Name[..^"IfAny".Length])
            .Order(StringComparer.Ordinal));
}
