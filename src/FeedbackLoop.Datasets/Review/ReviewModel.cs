namespace FeedbackLoop.Datasets.Review;

/// <summary>What a review decision is about: a preference pair (by <c>pair_id</c>) or an unpaired label (by <c>label_id</c>).</summary>
public static class ReviewItemKinds
{
    /// <summary>A preference pair.</summary>
    public const string Pair = "pair";

    /// <summary>An unpaired feedback label.</summary>
    public const string Label = "label";
}

/// <summary>The actions a reviewer takes, and which kind of item takes which.</summary>
public static class ReviewActions
{
    /// <summary>The item trains as extracted.</summary>
    public const string Approve = "approve";

    /// <summary>The item never trains (a reason is required).</summary>
    public const string Exclude = "exclude";

    /// <summary>A pair's chosen and rejected sides trade places.</summary>
    public const string Swap = "swap";

    /// <summary>A pair's chosen text is replaced by the reviewer's; the original stays in the source dataset and the log.</summary>
    public const string Correct = "correct";

    /// <summary>A label's value is inverted (thumb up becomes down).</summary>
    public const string Flip = "flip";

    /// <summary>The state of an item nobody decided on yet; never an action a reviewer takes.</summary>
    public const string None = "none";

    /// <summary>The actions a pair takes.</summary>
    public static IReadOnlyList<string> ForPairs { get; } = [Approve, Exclude, Swap, Correct];

    /// <summary>The actions a label takes.</summary>
    public static IReadOnlyList<string> ForLabels { get; } = [Approve, Exclude, Flip];

    /// <summary>The actions an item of <paramref name="kind"/> takes.</summary>
    public static IReadOnlyList<string> For(string kind) => kind == ReviewItemKinds.Pair ? ForPairs : ForLabels;
}

/// <summary>
/// The reasons offered for an exclusion. A reviewer may give one of these or free text; the listed ones let the review app
/// chart exclusions by reason, free text is kept as written.
/// </summary>
public static class ExclusionReasons
{
    /// <summary>The listed reasons.</summary>
    public static IReadOnlyList<string> Listed { get; } =
        ["off-topic", "harmful", "personal-data", "low-quality", "both-bad", "wrong-preference", "duplicate", "extraction-error"];

    /// <summary>Whether <paramref name="reason"/> is one of <see cref="Listed"/>.</summary>
    public static bool IsListed(string? reason) => reason is not null && Listed.Contains(reason, StringComparer.Ordinal);
}

/// <summary>The effective review of an item: an action with its reason and, for a correction, the new chosen text.</summary>
/// <param name="Action">One of <see cref="ReviewActions"/> (<see cref="ReviewActions.None"/> when nobody decided).</param>
/// <param name="Reason">Why (required for an exclusion).</param>
/// <param name="Text">The corrected chosen text (corrections only).</param>
public sealed record ReviewState(string Action, string? Reason = null, string? Text = null)
{
    /// <summary>An item nobody decided on.</summary>
    public static ReviewState Unreviewed { get; } = new(ReviewActions.None);

    /// <summary>Whether the item stays out of training.</summary>
    public bool Excludes => Action == ReviewActions.Exclude;
}

/// <summary>What a reviewer asks for (the command line and, later, the review app).</summary>
public sealed record ReviewRequest(string Item, string Action, string Reviewer, string? Reason = null, string? Text = null)
{
    /// <summary>The state the item will have once the request is recorded.</summary>
    public ReviewState State => new(Action, Reason, Text);
}

/// <summary>
/// One line of the append-only audit log: who decided what about which item, when, and the item's review state before
/// and after. For a correction the original chosen text is kept here too.
/// </summary>
public sealed record ReviewDecision(
    string DecisionId,
    string AppId,
    string Item,
    string Kind,
    string Action,
    string? Reason,
    string? Text,
    string Reviewer,
    DateTimeOffset DecidedAt,
    ReviewState Before,
    string? OriginalChosen)
{
    /// <summary>The item's review state this decision sets.</summary>
    public ReviewState After => new(Action, Reason, Text);
}

/// <summary>The limits on what a reviewer sends; every value has a documented default (docs/REVIEW.md).</summary>
public sealed record ReviewSettings
{
    /// <summary>The longest reviewer name, in characters (default 64).</summary>
    public int MaxReviewerLength { get; init; } = 64;

    /// <summary>The longest reason, in characters (default 500).</summary>
    public int MaxReasonLength { get; init; } = 500;

    /// <summary>The longest corrected answer, in characters (default 65,536).</summary>
    public int MaxCorrectionLength { get; init; } = 65_536;

    /// <summary>How long a decision waits for another writer to release the log (default 10 s).</summary>
    public TimeSpan LockTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Every default.</summary>
    public static ReviewSettings Default { get; } = new();
}
