using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Privacy;

/// <summary>Applies the privacy options to an event: redaction of its free text, pseudonymous user id.</summary>
internal static class EventPrivacy
{
    public static FeedbackEvent Apply(FeedbackEvent evt, IReadOnlyList<Redactor> redactors, UserIdHasher? userIds)
    {
        var data = redactors.Count == 0 ? evt.Data : Redact(evt.Data, redactors);
        var userId = userIds is null ? evt.UserId : userIds.Hash(evt.UserId);
        return ReferenceEquals(data, evt.Data) && ReferenceEquals(userId, evt.UserId) ? evt : evt with { Data = data, UserId = userId };
    }

    /// <summary>Redacts the fields that carry user or model text; returns the same instance when nothing changed.</summary>
    public static EventData Redact(EventData data, IReadOnlyList<Redactor> redactors)
    {
        switch (data)
        {
            case GenerationShown shown:
                var output = Redactor.Apply(redactors, shown.Output);
                var input = RedactMessages(shown.Input, redactors);
                return ReferenceEquals(output, shown.Output) && ReferenceEquals(input, shown.Input) ? data : shown with { Output = output, Input = input };
            case GenerationEdited edited:
                var edit = Redactor.Apply(redactors, edited.EditedOutput);
                return ReferenceEquals(edit, edited.EditedOutput) ? data : edited with { EditedOutput = edit };
            default:
                return data;
        }
    }

    private static IReadOnlyList<ConversationTurn> RedactMessages(IReadOnlyList<ConversationTurn> messages, IReadOnlyList<Redactor> redactors)
    {
        ConversationTurn[]? changed = null;
        for (var i = 0; i < messages.Count; i++)
        {
            var content = messages[i].Content is { } text ? Redactor.Apply(redactors, text) : null;
            if (ReferenceEquals(content, messages[i].Content)) continue;
            changed ??= [.. messages];
            changed[i] = messages[i] with { Content = content! };
        }
        return changed ?? messages;
    }
}
