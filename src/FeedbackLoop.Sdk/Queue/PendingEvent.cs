using System.Diagnostics;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Queue;

/// <summary>Which call produced a <see cref="PendingEvent"/>; says how its fields map onto the event's data.</summary>
internal enum PendingKind : byte
{
    /// <summary>A complete <see cref="FeedbackEvent"/> in <see cref="PendingEvent.Object"/>.</summary>
    Event,
    /// <summary>An <see cref="EventData"/> in <see cref="PendingEvent.Object"/>.</summary>
    Data,
    Shown,
    Thumb,
    Rating,
    Regenerated,
    Edited,
    Copied,
    Accepted,
    Rejected,
    ComparisonChosen,
    Dwell,
    SessionEnded,
    /// <summary>A claimed slot whose event was dropped for the queue's byte budget; the sender skips it.</summary>
    Tombstone,
}

/// <summary>
/// One call's arguments, stored by value in the queue's preallocated slots so the caller's thread
/// allocates nothing: the event records are built, redacted and serialized later on the sender.
/// Field use per kind: A = generation id (or candidate set id), B..F = further strings, Number/Small =
/// numbers with -1 for "not given".
/// </summary>
internal struct PendingEvent
{
    public PendingKind Kind;
    public long OccurredAtTicks;
    public string SessionId;
    public string UserId;
    public string? A;
    public string? B;
    public string? C;
    public string? D;
    public string? E;
    public string? F;
    public object? Object;
    public long Number;
    public int Small;
    /// <summary>The estimate this event added to the queue's byte budget, given back when it is taken.</summary>
    public int Bytes;
    /// <summary>
    /// The caller's span (<see cref="Activity.Current"/> at the call), default when none. Kept as the ids'
    /// own structs, which only reference strings the activity already holds, so capturing it allocates nothing.
    /// </summary>
    public ActivityTraceId TraceId;
    public ActivitySpanId SpanId;
    public ActivityTraceFlags TraceFlags;

    /// <summary>The caller's span as a context, default when the call had none.</summary>
    public readonly ActivityContext TraceContext => TraceId == default ? default : new ActivityContext(TraceId, SpanId, TraceFlags);

    public readonly string Type => Kind switch
    {
        PendingKind.Event => ((FeedbackEvent)Object!).Type,
        PendingKind.Data => ((EventData)Object!).Type,
        PendingKind.Shown => EventTypes.GenerationShown,
        PendingKind.Thumb => EventTypes.FeedbackThumb,
        PendingKind.Rating => EventTypes.FeedbackRating,
        PendingKind.Regenerated => EventTypes.GenerationRegenerated,
        PendingKind.Edited => EventTypes.GenerationEdited,
        PendingKind.Copied => EventTypes.GenerationCopied,
        PendingKind.Accepted => EventTypes.GenerationAccepted,
        PendingKind.Rejected => EventTypes.GenerationRejected,
        PendingKind.ComparisonChosen => EventTypes.ComparisonChosen,
        PendingKind.Dwell => EventTypes.GenerationDwell,
        PendingKind.SessionEnded => EventTypes.SessionEnded,
        _ => throw new InvalidOperationException("unknown pending kind " + Kind),
    };

    /// <summary>
    /// The call's argument that breaks the contract, named as the call names it: a required one left null, or an enum
    /// value outside its members (a cast int). Checked on the sender, so the call itself stays a few stores; null when
    /// the arguments are fine.
    /// </summary>
    public readonly (string Argument, string Reason)? BadArgument()
    {
        const string Null = "is null";
        if (Kind == PendingKind.Event) return Object is null ? ("evt", Null) : null;
        if (SessionId is null) return ("sessionId", Null);
        if (UserId is null) return ("userId", Null);
        return Kind switch
        {
            PendingKind.Data => Object is null ? ("data", Null) : null,
            PendingKind.SessionEnded => null,
            PendingKind.ComparisonChosen => A is null ? ("candidateSetId", Null) : B is null ? ("chosenGenerationId", Null) : null,
            _ when A is null => ("generationId", Null),
            PendingKind.Shown => B is null ? ("modelVersion", Null)
                : Object is not IReadOnlyList<ConversationTurn> input ? ("input", Null)
                : C is null ? ("output", Null)
                : HasNullTurn(input) ? ("input", "holds a null message or a message with a null role or content")
                : null,
            PendingKind.Thumb => Small is (int)ThumbValue.Up or (int)ThumbValue.Down ? null : ("value", $"{Small} is not a ThumbValue (Up, Down)"),
            PendingKind.Regenerated => B is null ? ("replacementGenerationId", Null) : null,
            PendingKind.Edited => B is null ? ("editedOutput", Null) : null,
            _ => null,
        };
    }

    private static bool HasNullTurn(IReadOnlyList<ConversationTurn> input)
    {
        for (var i = 0; i < input.Count; i++)
        {
            if (input[i] is not { Role: not null, Content: not null }) return true;
        }
        return false;
    }

    /// <summary>Builds the contract event (on the sender thread); the event id is a UUIDv7 of the call's time.</summary>
    public readonly FeedbackEvent ToEvent(string appId)
    {
        if (Kind == PendingKind.Event) return (FeedbackEvent)Object!;
        var occurredAt = new DateTimeOffset(OccurredAtTicks, TimeSpan.Zero);
        var eventId = Guid.CreateVersion7(occurredAt).ToString();
        return new FeedbackEvent(eventId, appId, SessionId, UserId, occurredAt, ToData());
    }

    private readonly EventData ToData() => Kind switch
    {
        PendingKind.Data => (EventData)Object!,
        PendingKind.Shown => new GenerationShown(A!, B!, (IReadOnlyList<ConversationTurn>)Object!, C!, D, E, F,
            Small < 0 ? null : Small, Number < 0 ? null : Number),
        PendingKind.Thumb => new ThumbGiven(A!, (ThumbValue)Small),
        PendingKind.Rating => new RatingGiven(A!, Small),
        PendingKind.Regenerated => new GenerationRegenerated(A!, B!),
        PendingKind.Edited => new GenerationEdited(A!, B!),
        PendingKind.Copied => new GenerationCopied(A!),
        PendingKind.Accepted => new GenerationAccepted(A!),
        PendingKind.Rejected => new GenerationRejected(A!),
        PendingKind.ComparisonChosen => new ComparisonChosen(A!, B!),
        PendingKind.Dwell => new GenerationDwell(A!, Number),
        PendingKind.SessionEnded => Contracts.SessionEnded.Instance,
        _ => throw new InvalidOperationException("unknown pending kind " + Kind),
    };

    /// <summary>
    /// What the queued call keeps alive, in bytes: its strings (UTF-16) plus a fixed share for the slot.
    /// An estimate that errs high, used only to bound the queue's memory.
    /// </summary>
    public readonly int EstimateBytes()
    {
        long chars = (long)(SessionId?.Length ?? 0) + (UserId?.Length ?? 0) + (A?.Length ?? 0) + (B?.Length ?? 0)
            + (C?.Length ?? 0) + (D?.Length ?? 0) + (E?.Length ?? 0) + (F?.Length ?? 0);
        if (Object is IReadOnlyList<ConversationTurn> input)
        {
            for (var i = 0; i < input.Count; i++) chars += (input[i]?.Content?.Length ?? 0) + (input[i]?.Role?.Length ?? 0) + 16; // a null turn is refused on the sender, not here
        }
        else if (Object is not null)
        {
            chars += 512; // a caller-built event or data record: sized by its serialized form later
        }
        return (int)Math.Min(int.MaxValue, 96 + 2 * chars);
    }
}
