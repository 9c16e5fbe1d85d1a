using System.Text.Json;
using System.Text.Json.Serialization;

namespace FeedbackLoop.Contracts;

/// <summary>One chat message of a prompt or a completion.</summary>
/// <param name="Role"><c>system</c>, <c>user</c>, <c>assistant</c> or <c>tool</c>.</param>
/// <param name="Content">The message text.</param>
public sealed record ConversationTurn(string Role, string Content)
{
    /// <summary>The roles the contract allows.</summary>
    public static IReadOnlyList<string> Roles { get; } = ["system", "user", "assistant", "tool"];
}

/// <summary>Type-specific payload of an event (the envelope's <c>data</c>).</summary>
/// <remarks>
/// On the wire, <c>data</c> holds exactly the positional (init) members of each record. The computed, get-only
/// members below are never written: the serializer context ignores every read-only property
/// (<see cref="EventJson"/>'s source-generated context), because <c>[JsonIgnore]</c> here would not reach the overrides.
/// </remarks>
public abstract record EventData
{
    /// <summary>The envelope <c>type</c> this payload belongs to.</summary>
    public abstract string Type { get; }

    /// <summary>The generation this event is about, when it is about exactly one.</summary>
    public virtual string? SubjectGenerationId => null;

    /// <summary>Checks the rules JSON cannot express by type alone; returns the first violation or null.</summary>
    internal virtual EventRejection? Validate() => null;

    private protected static EventRejection? RequireId(string value, string field) =>
        string.IsNullOrEmpty(value) ? new EventRejection("data." + field, "must be a non-empty string") : null;
}

/// <summary><c>generation.shown</c>: a model output was shown.</summary>
public sealed record GenerationShown(
    string GenerationId,
    string ModelVersion,
    IReadOnlyList<ConversationTurn> Input,
    string Output,
    string? PromptVersion = null,
    string? Variant = null,
    string? CandidateSetId = null,
    int? Position = null,
    long? LatencyMs = null) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.GenerationShown;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;

    internal override EventRejection? Validate()
    {
        if (RequireId(GenerationId, "generation_id") is { } a) return a;
        if (RequireId(ModelVersion, "model_version") is { } b) return b;
        if (Input.Count == 0) return new EventRejection("data.input", "must hold at least one message");
        for (var i = 0; i < Input.Count; i++)
        {
            if (Input[i] is null) return new EventRejection($"data.input[{i}]", "must be a {role, content} object");
            if (!ConversationTurn.Roles.Contains(Input[i].Role))
                return new EventRejection($"data.input[{i}].role", "must be one of system, user, assistant, tool");
        }
        if (Position is < 0) return new EventRejection("data.position", "must be >= 0");
        if (LatencyMs is < 0) return new EventRejection("data.latency_ms", "must be >= 0");
        if (CandidateSetId is { Length: 0 }) return new EventRejection("data.candidate_set_id", "must be non-empty when present");
        return null;
    }
}

/// <summary>Thumb direction; on the wire exactly <c>"up"</c> or <c>"down"</c>.</summary>
[JsonConverter(typeof(ThumbValueConverter))]
public enum ThumbValue
{
    /// <summary>Thumb up: a positive signal.</summary>
    Up,
    /// <summary>Thumb down: a negative signal.</summary>
    Down,
}

/// <summary>
/// Reads only the exact strings <c>"up"</c> and <c>"down"</c>. The stock enum converter also takes numbers,
/// padded text and flag lists, which the schema (and therefore other producers' validators) reject.
/// </summary>
internal sealed class ThumbValueConverter : JsonConverter<ThumbValue>
{
    public override ThumbValue Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            if (reader.ValueTextEquals("up"u8)) return ThumbValue.Up;
            if (reader.ValueTextEquals("down"u8)) return ThumbValue.Down;
        }
        throw new JsonException("must be \"up\" or \"down\"");
    }

    public override void Write(Utf8JsonWriter writer, ThumbValue value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value == ThumbValue.Up ? "up"u8 : "down"u8);
}

/// <summary><c>feedback.thumb</c>. The latest by <c>occurred_at</c> wins per (generation, user).</summary>
public sealed record ThumbGiven(string GenerationId, ThumbValue Value) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.FeedbackThumb;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;
    internal override EventRejection? Validate() =>
        RequireId(GenerationId, "generation_id")
        ?? (Enum.IsDefined(Value) ? null : new EventRejection("data.value", "must be \"up\" or \"down\""));
}

/// <summary><c>feedback.rating</c>: an integer score from 1 to 5.</summary>
public sealed record RatingGiven(string GenerationId, int Score) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.FeedbackRating;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;
    internal override EventRejection? Validate() =>
        RequireId(GenerationId, "generation_id")
        ?? (Score is >= 1 and <= 5 ? null : new EventRejection("data.score", "must be an integer from 1 to 5"));
}

/// <summary><c>generation.regenerated</c>: <see cref="GenerationId"/> was replaced by <see cref="ReplacementGenerationId"/>.</summary>
public sealed record GenerationRegenerated(string GenerationId, string ReplacementGenerationId) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.GenerationRegenerated;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;
    internal override EventRejection? Validate() =>
        RequireId(GenerationId, "generation_id") ?? RequireId(ReplacementGenerationId, "replacement_generation_id");
}

/// <summary><c>generation.edited</c>: the user turned the output into <see cref="EditedOutput"/>.</summary>
public sealed record GenerationEdited(string GenerationId, string EditedOutput) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.GenerationEdited;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;
    internal override EventRejection? Validate() => RequireId(GenerationId, "generation_id");
}

/// <summary><c>generation.copied</c>: a positive signal.</summary>
public sealed record GenerationCopied(string GenerationId) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.GenerationCopied;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;
    internal override EventRejection? Validate() => RequireId(GenerationId, "generation_id");
}

/// <summary><c>generation.accepted</c>: a suggestion was accepted (positive).</summary>
public sealed record GenerationAccepted(string GenerationId) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.GenerationAccepted;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;
    internal override EventRejection? Validate() => RequireId(GenerationId, "generation_id");
}

/// <summary><c>generation.rejected</c>: a suggestion was dismissed (negative).</summary>
public sealed record GenerationRejected(string GenerationId) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.GenerationRejected;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;
    internal override EventRejection? Validate() => RequireId(GenerationId, "generation_id");
}

/// <summary><c>comparison.chosen</c>: one generation of a side-by-side set was preferred.</summary>
public sealed record ComparisonChosen(string CandidateSetId, string ChosenGenerationId) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.ComparisonChosen;
    /// <inheritdoc />
    public override string? SubjectGenerationId => ChosenGenerationId;
    internal override EventRejection? Validate() =>
        RequireId(CandidateSetId, "candidate_set_id") ?? RequireId(ChosenGenerationId, "chosen_generation_id");
}

/// <summary><c>generation.dwell</c>: the generation was visible for <see cref="VisibleMs"/> milliseconds.</summary>
public sealed record GenerationDwell(string GenerationId, long VisibleMs) : EventData
{
    /// <inheritdoc />
    public override string Type => EventTypes.GenerationDwell;
    /// <inheritdoc />
    public override string? SubjectGenerationId => GenerationId;
    internal override EventRejection? Validate() =>
        RequireId(GenerationId, "generation_id")
        ?? (VisibleMs >= 0 ? null : new EventRejection("data.visible_ms", "must be an integer >= 0"));
}

/// <summary><c>session.ended</c>: no more events will come for this session.</summary>
public sealed record SessionEnded : EventData
{
    /// <summary>The one instance; the payload is empty.</summary>
    public static SessionEnded Instance { get; } = new();
    /// <inheritdoc />
    public override string Type => EventTypes.SessionEnded;
}
