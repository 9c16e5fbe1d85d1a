using FeedbackLoop.Contracts;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// Checkpoints of one partition's state (docs/adr/0014-partition-checkpoints.md): everything a re-read of the partition
/// would rebuild (open sessions, cut-session markers, the de-duplication window, the per-app clocks, the partition's
/// engagement window shares and the record clock), so the host can commit past open sessions and a restart
/// re-reads only what arrived after the checkpoint.
/// </summary>
public sealed partial class Extractor
{
    // "FLXS" little-endian, then the body's format version: a body of another format is refused, never guessed at.
    private const int CheckpointMagic = 0x53584C46;
    /// <summary>
    /// The format version of checkpoint bodies this extractor writes. It also reads <see cref="PreviousCheckpointFormatVersion"/>,
    /// so an upgrade restores the checkpoints its predecessor committed instead of re-reading their partitions.
    /// </summary>
    public const int CheckpointFormatVersion = 2;

    /// <summary>
    /// The version before <see cref="CheckpointFormatVersion"/>: the same layout, except that the de-duplication window was
    /// written whole into every body, each id as text.
    /// </summary>
    public const int PreviousCheckpointFormatVersion = 1;

    /// <summary>
    /// The state of <paramref name="partition"/> as a checkpoint body, or null when it is larger than
    /// <see cref="ExtractionSettings.MaxCheckpointBytes"/> (the caller then commits <see cref="CommittableOffset"/> instead).
    /// Call it where the state matches what was read: after the records up to the offset the checkpoint is for, and after
    /// the <see cref="Sweep"/> whose rows the same commit makes durable.
    /// </summary>
    /// <remarks>
    /// The body is built in one array sized for the partition's previous body (a quarter more), and handed back as it is,
    /// without a copy. A stream growing from empty doubled its array up to the body's size, then copied it out: about three
    /// times the body allocated, every checkpoint of every partition, when bodies still held the whole de-duplication window
    /// (megabytes once it is full; docs/BENCHMARKS.md, "Checkpoint bodies built once").
    /// </remarks>
    public ReadOnlyMemory<byte>? CheckpointPartition(int partition)
    {
        var state = Partition(partition);
        var expected = Math.Min(state.LastCheckpointBytes + state.LastCheckpointBytes / 4, _settings.MaxCheckpointBytes + 1);
        using var buffer = new MemoryStream((int)Math.Min(expected, Array.MaxLength));
        using var writer = new CheckpointWriter(buffer);
        writer.Write(CheckpointMagic);
        writer.Write(CheckpointFormatVersion);
        writer.Write(partition);
        writer.Write(state.Watermark);
        writer.Write(state.RecordClock);
        writer.Write(state.Sequence);
        writer.Write(state.Apps.Count);
        foreach (var (appId, clock) in state.Apps)
        {
            writer.Write(appId);
            writer.Write(clock.Watermark);
            writer.Write(clock.OpenSessions);
            writer.Write(clock.LastActive);
        }
        state.Deduplication.WriteSection(writer);
        writer.Write(state.Sessions.Count);
        foreach (var session in state.Sessions.Values) WriteSession(writer, session);
        _engagement.WriteShares(partition, writer);
        writer.Flush();
        state.LastCheckpointBytes = buffer.Length;
        if (buffer.Length > _settings.MaxCheckpointBytes)
        {
            state.Deduplication.Abandon();
            return null;
        }
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }

    /// <summary>
    /// From this many ids on, a partition's de-duplication window is kept in a base file beside its checkpoints, and each
    /// body holds the ids added since the base (<see cref="TakeWindowBase"/>); a smaller window is written into every body.
    /// </summary>
    public const int WindowBaseFrom = DeduplicationWindow.InlineBelow;

    /// <summary>
    /// The de-duplication window's base that the last body of <paramref name="partition"/> refers to, by its name; null when
    /// that body holds the whole window. The checkpoint's file must keep it (docs/adr/0014-partition-checkpoints.md).
    /// </summary>
    public string? WindowBaseOf(int partition) => _partitions.TryGetValue(partition, out var state) ? state.Deduplication.BaseHash : null;

    /// <summary>
    /// The base taken for the last body of <paramref name="partition"/>, once; null when that body refers to an older base or
    /// to none. It must be durable before that body's offset is committed.
    /// </summary>
    public WindowBaseFile? TakeWindowBase(int partition) => _partitions.TryGetValue(partition, out var state) ? state.Deduplication.TakeNewBase() : null;

    /// <summary>
    /// Replaces the state of <paramref name="partition"/> with a checkpoint's. Null when it was restored; else the reason
    /// (<see cref="CheckpointReasons"/>) it was refused, and the extractor is left as it was, so the caller can rebuild the
    /// state by re-reading instead.
    /// </summary>
    /// <param name="partition">The partition the body was written for.</param>
    /// <param name="body">The body <see cref="CheckpointPartition"/> wrote.</param>
    /// <param name="windowBases">The de-duplication window's bases by name (<see cref="TakeWindowBase"/>); a body that refers
    /// to one it does not have is refused (<see cref="CheckpointReasons.WindowMissing"/>).</param>
    public string? RestorePartition(int partition, ReadOnlySpan<byte> body, Func<string, byte[]?>? windowBases = null)
    {
        if (body.Length > _settings.MaxCheckpointBytes) return CheckpointReasons.TooLarge;
        PartitionState state;
        EngagementAggregator.Shares shares;
        try
        {
            using var stream = new MemoryStream(body.ToArray(), writable: false);
            using var reader = new CheckpointReader(stream);
            if (reader.ReadInt32() != CheckpointMagic) return CheckpointReasons.Corrupt;
            var version = reader.ReadInt32();
            if (version is not (CheckpointFormatVersion or PreviousCheckpointFormatVersion)) return CheckpointReasons.Version;
            if (reader.ReadInt32() != partition) return CheckpointReasons.Corrupt;
            state = new PartitionState(_settings.DeduplicationWindow)
            {
                Watermark = reader.ReadTime(),
                RecordClock = reader.ReadTime(),
                Sequence = reader.ReadInt64(),
                LastCheckpointBytes = body.Length,
            };
            for (int i = 0, apps = reader.ReadCount(); i < apps; i++)
            {
                var appId = reader.ReadString();
                state.Apps[appId] = new AppClock { Watermark = reader.ReadTime(), OpenSessions = reader.ReadInt32(), LastActive = reader.ReadInt64() };
            }
            if (version == PreviousCheckpointFormatVersion)
            {
                for (int i = 0, ids = reader.ReadCount(); i < ids; i++) state.Deduplication.Add(reader.ReadString());
            }
            else if (!state.Deduplication.ReadSection(reader, windowBases))
            {
                return CheckpointReasons.WindowMissing;
            }
            for (int i = 0, sessions = reader.ReadCount(); i < sessions; i++)
            {
                var session = ReadSession(reader);
                if (!state.Sessions.TryAdd((session.AppId, session.SessionId), session)) return CheckpointReasons.Corrupt;
            }
            shares = EngagementAggregator.ReadShares(reader);
            if (reader.Remaining != 0) return CheckpointReasons.Corrupt;
        }
        catch (EndOfStreamException)
        {
            return CheckpointReasons.Truncated;
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException or FormatException or OverflowException or IOException)
        {
            // ArgumentException covers a time out of range and invalid UTF-8 in a string; IOException a 7-bit length too long.
            return CheckpointReasons.Corrupt;
        }

        DropPartition(partition);
        _partitions[partition] = state;
        _partitionList.Add(state);
        // The restored partition and its app clocks are new to the per-app clock cache, whether or not the partition was
        // known before (DropPartition moves the layout only for a partition it had).
        _clockLayout++;
        Volatile.Write(ref _openSessions, _openSessions + state.Sessions.Count);
        AddSessionStateBytes(state.Sessions.Values.Sum(s => s.EstimatedBytes));
        _engagement.Restore(partition, shares);
        return null;
    }

    private static void WriteSession(CheckpointWriter writer, SessionState session)
    {
        writer.Write(session.AppId);
        writer.Write(session.SessionId);
        writer.Write(session.FirstOffset);
        writer.Write(session.LastEventAt);
        writer.WriteNullable(session.LastRecordAt);
        writer.WriteNullable(session.CutReason);
        writer.Write(session.EstimatedBytes);
        var generations = session.ShownIfAny ?? Unused.Shown;
        writer.Write(generations.Count);
        foreach (var shown in generations.Values)
        {
            writer.Write(shown.GenerationId);
            writer.Write(shown.ModelVersion);
            writer.Write(shown.Variant);
            writer.Write(shown.Input.Count);
            foreach (var message in shown.Input)
            {
                writer.Write(message.Role);
                writer.Write(message.Content);
            }
            writer.Write(shown.Output);
            writer.WriteNullable(shown.CandidateSetId);
        }
        var thumbs = session.ThumbsIfAny ?? Unused.Feedback;
        writer.Write(thumbs.Count);
        foreach (var ((generationId, userId), thumb) in thumbs)
        {
            writer.Write(generationId);
            writer.Write(userId);
            writer.Write(thumb.Positive);
            writer.Write(thumb.At);
            writer.Write(thumb.IsThumb);
        }
        var ratings = session.RatingsIfAny ?? Unused.Ratings;
        writer.Write(ratings.Count);
        foreach (var ((generationId, userId), rating) in ratings)
        {
            writer.Write(generationId);
            writer.Write(userId);
            writer.Write(rating.Score);
            writer.Write(rating.At);
        }
        WriteLinks(writer, session.ReplacedByIfAny ?? Unused.Links);
        WriteLinks(writer, session.ReplacesIfAny ?? Unused.Links);
        var positive = session.PositiveIfAny ?? Unused.Positive;
        writer.Write(positive.Count);
        foreach (var (generationId, (at, userId)) in positive)
        {
            writer.Write(generationId);
            writer.Write(at);
            writer.Write(userId);
        }
        var sets = session.CandidateSetsIfAny ?? Unused.Sets;
        writer.Write(sets.Count);
        foreach (var (setId, members) in sets)
        {
            writer.Write(setId);
            writer.Write(members.Count);
            foreach (var member in members) writer.Write(member);
        }
        var choices = session.ChoicesIfAny ?? Unused.Choices;
        writer.Write(choices.Count);
        foreach (var (setId, choice) in choices)
        {
            writer.Write(setId);
            writer.Write(choice.GenerationId);
            writer.Write(choice.At);
            writer.Write(choice.UserId);
        }
        var pendingEdits = session.PendingEditsIfAny ?? Unused.Edits;
        writer.Write(pendingEdits.Count);
        foreach (var (generationId, edits) in pendingEdits)
        {
            writer.Write(generationId);
            writer.Write(edits.Count);
            foreach (var edit in edits)
            {
                // The rest of a pending edit's event is its session's (app, session) and its key's generation.
                writer.Write(edit.EventId);
                writer.Write(edit.UserId);
                writer.Write(edit.OccurredAt);
                writer.Write(((GenerationEdited)edit.Data).EditedOutput);
            }
        }
        WriteSet(writer, session.EmittedPairsIfAny ?? Unused.Set);
        var pairsBySignal = session.PairsBySignalIfAny ?? Unused.Counts;
        writer.Write(pairsBySignal.Count);
        foreach (var (signal, count) in pairsBySignal)
        {
            writer.Write(signal);
            writer.Write(count);
        }
        WriteSet(writer, session.PairBudgetSpentIfAny ?? Unused.Set);
    }

    private SessionState ReadSession(CheckpointReader reader)
    {
        var appId = reader.ReadString();
        var sessionId = reader.ReadString();
        var firstOffset = reader.ReadInt64();
        var lastEventAt = reader.ReadTime();
        // The rules are the app's as this extractor is configured now: a restart with another pipeline applies it to open
        // sessions too, as a re-read would.
        var session = new SessionState(appId, sessionId, firstOffset, lastEventAt, _settings.Rules.For(appId))
        {
            LastRecordAt = reader.ReadNullableTime(),
            CutReason = reader.ReadNullableString(),
            EstimatedBytes = reader.ReadInt64(),
        };
        for (int i = 0, n = reader.ReadCount(); i < n; i++)
        {
            var generationId = reader.ReadString();
            var model = reader.ReadString();
            var variant = reader.ReadString();
            var input = new ConversationTurn[reader.ReadCount(2)];
            for (var m = 0; m < input.Length; m++) input[m] = new ConversationTurn(reader.ReadString(), reader.ReadString());
            var output = reader.ReadString();
            var setId = reader.ReadNullableString();
            if (!session.Shown.TryAdd(generationId, new ShownGeneration(generationId, model, variant, input, SessionRules.InputKey(input), output, setId)))
                throw new InvalidDataException("generation shown twice");
        }
        for (int i = 0, n = reader.ReadCount(); i < n; i++)
        {
            var key = (reader.ReadString(), reader.ReadString());
            session.Thumbs[key] = new FinalFeedback(reader.ReadBoolean(), reader.ReadTime(), reader.ReadBoolean());
        }
        for (int i = 0, n = reader.ReadCount(); i < n; i++)
        {
            var key = (reader.ReadString(), reader.ReadString());
            session.Ratings[key] = (reader.ReadInt32(), reader.ReadTime());
        }
        // A collection is touched only for an entry, so a restored session creates no empty ones (SessionState).
        for (int i = 0, n = reader.ReadCount(); i < n; i++) session.ReplacedBy[reader.ReadString()] = reader.ReadString();
        for (int i = 0, n = reader.ReadCount(); i < n; i++) session.Replaces[reader.ReadString()] = reader.ReadString();
        for (int i = 0, n = reader.ReadCount(); i < n; i++) session.Positive[reader.ReadString()] = (reader.ReadTime(), reader.ReadString());
        for (int i = 0, n = reader.ReadCount(); i < n; i++)
        {
            var setId = reader.ReadString();
            var members = new List<string>(reader.ReadCount());
            for (var m = members.Capacity; m > 0; m--) members.Add(reader.ReadString());
            session.CandidateSets[setId] = members;
            session.CandidateMemberCount += members.Count;
        }
        for (int i = 0, n = reader.ReadCount(); i < n; i++) session.Choices[reader.ReadString()] = (reader.ReadString(), reader.ReadTime(), reader.ReadString());
        for (int i = 0, n = reader.ReadCount(); i < n; i++)
        {
            var generationId = reader.ReadString();
            var edits = new List<FeedbackEvent>(reader.ReadCount());
            for (var e = edits.Capacity; e > 0; e--)
            {
                var eventId = reader.ReadString();
                var userId = reader.ReadString();
                var at = reader.ReadTime();
                edits.Add(new FeedbackEvent(eventId, appId, sessionId, userId, at, new GenerationEdited(generationId, reader.ReadString())));
            }
            session.PendingEdits[generationId] = edits;
            session.PendingEditCount += edits.Count;
        }
        for (int i = 0, n = reader.ReadCount(); i < n; i++) session.EmittedPairs.Add(reader.ReadString());
        for (int i = 0, n = reader.ReadCount(); i < n; i++) session.PairsBySignal[reader.ReadString()] = reader.ReadInt32();
        for (int i = 0, n = reader.ReadCount(); i < n; i++) session.PairBudgetSpent.Add(reader.ReadString());
        return session;
    }

    private static void WriteLinks(CheckpointWriter writer, Dictionary<string, string> links)
    {
        writer.Write(links.Count);
        foreach (var (from, to) in links)
        {
            writer.Write(from);
            writer.Write(to);
        }
    }

    private static void WriteSet(CheckpointWriter writer, HashSet<string> set)
    {
        writer.Write(set.Count);
        foreach (var item in set) writer.Write(item);
    }

    /// <summary>
    /// Stand-ins for the collections a session never used (<see cref="SessionState"/> creates each on first use), so the
    /// writer reads every kind the same way without creating any. Only ever read: nothing may add to them.
    /// </summary>
    private static class Unused
    {
        public static readonly Dictionary<string, ShownGeneration> Shown = [];
        public static readonly Dictionary<(string GenerationId, string UserId), FinalFeedback> Feedback = [];
        public static readonly Dictionary<(string GenerationId, string UserId), (int Score, DateTimeOffset At)> Ratings = [];
        public static readonly Dictionary<string, string> Links = [];
        public static readonly Dictionary<string, (DateTimeOffset At, string UserId)> Positive = [];
        public static readonly Dictionary<string, List<string>> Sets = [];
        public static readonly Dictionary<string, (string GenerationId, DateTimeOffset At, string UserId)> Choices = [];
        public static readonly Dictionary<string, List<FeedbackEvent>> Edits = [];
        public static readonly Dictionary<string, int> Counts = [];
        public static readonly HashSet<string> Set = [];
    }
}
