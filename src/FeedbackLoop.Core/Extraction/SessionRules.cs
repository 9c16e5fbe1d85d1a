using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Core.Extraction;

/// <summary>
/// The preference rules 1–5 (docs/contract/rules.md) applied to one session's events, in arrival order. Pure: it reads and updates the
/// session state and appends rows to the output; it does no I/O and reads no clock.
/// Rules 1–3 fire as soon as every generation they name has been shown; rules 4 and 5 depend on final
/// thumbs ("latest wins"), so they fire when the session resolves.
/// </summary>
internal sealed class SessionRules(ExtractionSettings settings, ExtractionCounters counters, ExtractionOutput output)
{
    private const int MaxChainLength = 1_000;

    public void Apply(SessionState session, FeedbackEvent evt)
    {
        switch (evt.Data)
        {
            case GenerationShown shown:
                OnShown(session, shown);
                break;
            case ThumbGiven thumb:
                RecordLatest(session, session.Thumbs, (thumb.GenerationId, evt.UserId), new FinalFeedback(thumb.Value == ThumbValue.Up, evt.OccurredAt, true));
                if (thumb.Value == ThumbValue.Up) OnPositive(session, thumb.GenerationId, evt);
                break;
            case RatingGiven rating:
                var key = (rating.GenerationId, evt.UserId);
                if (!session.Ratings.TryGetValue(key, out var previous))
                {
                    session.Ratings[key] = (rating.Score, evt.OccurredAt);
                    session.EstimatedBytes += SessionBudget.Entry(rating.GenerationId, evt.UserId);
                }
                else if (evt.OccurredAt >= previous.At)
                {
                    session.Ratings[key] = (rating.Score, evt.OccurredAt);
                }
                if (rating.Score >= 4) OnPositive(session, rating.GenerationId, evt);
                break;
            case GenerationCopied copied:
                OnPositive(session, copied.GenerationId, evt);
                break;
            case GenerationAccepted accepted:
                OnPositive(session, accepted.GenerationId, evt);
                break;
            case GenerationRegenerated regenerated:
                // An overwritten link keeps its key's bytes; the replaced value is small and not given back.
                if (session.ReplacedBy.TryAdd(regenerated.GenerationId, regenerated.ReplacementGenerationId))
                    session.EstimatedBytes += SessionBudget.Entry(regenerated.GenerationId, regenerated.ReplacementGenerationId);
                else session.ReplacedBy[regenerated.GenerationId] = regenerated.ReplacementGenerationId;
                if (session.Replaces.TryAdd(regenerated.ReplacementGenerationId, regenerated.GenerationId))
                    session.EstimatedBytes += SessionBudget.Entry(regenerated.ReplacementGenerationId, regenerated.GenerationId);
                else session.Replaces[regenerated.ReplacementGenerationId] = regenerated.GenerationId;
                // The chain's end may have been praised before this link arrived (clocks, retries), and the
                // link may join earlier members to a chain that already ends further on (g1→g2 after g2→g3).
                foreach (var last in LastMembersTouching(session, regenerated.ReplacementGenerationId)) TryFireChain(session, last);
                break;
            case GenerationEdited edited:
                if (session.ShownIfAny?.TryGetValue(edited.GenerationId, out var original) == true)
                {
                    FireEdit(session, evt, edited, original);
                    break;
                }
                if (!session.PendingEdits.TryGetValue(edited.GenerationId, out var pending))
                    session.PendingEdits[edited.GenerationId] = pending = [];
                pending.Add(evt);
                session.PendingEditCount++;
                session.EstimatedBytes += SessionBudget.Of(evt, edited);
                break;
            case ComparisonChosen chosen:
                var choice = (chosen.ChosenGenerationId, evt.OccurredAt, evt.UserId);
                if (session.Choices.TryGetValue(chosen.CandidateSetId, out var earlier))
                {
                    session.Choices[chosen.CandidateSetId] = choice;
                    // The same choice again pairs nothing new; skipping it keeps repeated choices of a large set linear.
                    if (earlier.GenerationId == chosen.ChosenGenerationId) break;
                }
                else
                {
                    session.Choices[chosen.CandidateSetId] = choice;
                    session.EstimatedBytes += SessionBudget.Entry(chosen.CandidateSetId, chosen.ChosenGenerationId) + SessionBudget.Of(evt.UserId);
                }
                TryFireComparison(session, chosen.CandidateSetId);
                break;
            default:
                // dwell, rejected and session.ended carry no preference by themselves.
                break;
        }
    }

    /// <summary>Rules 4 and 5 over the session's final thumbs and ratings. Called once, when it resolves.</summary>
    public void Resolve(SessionState session)
    {
        if (session.Rules.IsEnabled(PairSignals.Thumbs)) EmitThumbContrasts(session);
        if (session.Rules.LabelsEnabled) EmitLabels(session);
        counters.SignalsNeverResolved += session.PendingEditCount;
        if (session.ChoicesIfAny is { } choices)
        {
            foreach (var choice in choices.Values)
            {
                if (session.ShownIfAny?.ContainsKey(choice.GenerationId) != true) counters.SignalsNeverResolved++;
            }
        }
        if (session.PositiveIfAny is { } positive)
        {
            foreach (var generationId in positive.Keys)
            {
                if (session.ReplacesIfAny?.ContainsKey(generationId) == true && session.ReplacedByIfAny?.ContainsKey(generationId) != true
                    && !ChainFullyShown(session, generationId))
                {
                    counters.SignalsNeverResolved++;
                }
            }
        }
    }

    private void OnShown(SessionState session, GenerationShown shown)
    {
        if (session.Shown.ContainsKey(shown.GenerationId)) return;
        if (session.Shown.Count >= settings.MaxGenerationsPerSession)
        {
            counters.GenerationsOverSessionLimit++;
            return;
        }
        session.Shown[shown.GenerationId] = new ShownGeneration(
            shown.GenerationId, shown.ModelVersion, shown.Variant ?? string.Empty, shown.Input,
            InputKey(shown.Input), shown.Output, shown.CandidateSetId);
        session.EstimatedBytes += SessionBudget.Of(shown);

        if (shown.CandidateSetId is { } setId)
        {
            if (!session.CandidateSets.TryGetValue(setId, out var members))
            {
                session.CandidateSets[setId] = members = [];
                session.EstimatedBytes += SessionBudget.Entry(setId);
            }
            if (members.Count >= settings.MaxCandidatesPerSet)
            {
                counters.CandidatesOverSetLimit++;
            }
            else
            {
                members.Add(shown.GenerationId);
                session.CandidateMemberCount++;
                session.EstimatedBytes += SessionBudget.EntryBytes;
                TryFireComparison(session, setId, shown.GenerationId);
            }
        }
        if (session.PendingEditsIfAny?.Remove(shown.GenerationId, out var edits) == true)
        {
            // Newest first, as the pending edits were always fired; the order decides which pairs a spent budget keeps.
            for (var i = edits.Count - 1; i >= 0; i--)
            {
                var evt = edits[i];
                var edit = (GenerationEdited)evt.Data;
                session.PendingEditCount--;
                session.EstimatedBytes -= SessionBudget.Of(evt, edit);
                FireEdit(session, evt, edit, session.Shown[shown.GenerationId]);
            }
        }

        // A chain whose members were not all shown yet may be complete now.
        if (session.PositiveIfAny is { Count: > 0 })
        {
            foreach (var last in LastMembersTouching(session, shown.GenerationId)) TryFireChain(session, last);
        }
    }

    private void OnPositive(SessionState session, string generationId, FeedbackEvent evt)
    {
        // A second positive signal for the same generation changes nothing the chain rule reads: every change
        // that could complete its chain (a link, a shown member) tries the chain itself.
        if (!session.Positive.TryAdd(generationId, (evt.OccurredAt, evt.UserId))) return;
        session.EstimatedBytes += SessionBudget.Entry(generationId, evt.UserId);
        TryFireChain(session, generationId);
    }

    /// <summary>
    /// Rule 1: the chosen generation against every other shown member of its set. When one member was just shown
    /// (<paramref name="newMemberId"/>) and it is not the chosen one, only its pair can be new, so only it is tried:
    /// pairing the whole set again on every shown member made a large set quadratic.
    /// </summary>
    private void TryFireComparison(SessionState session, string setId, string? newMemberId = null)
    {
        if (!session.Rules.IsEnabled(PairSignals.Comparison)) return;
        if (session.ChoicesIfAny is not { } choices || !choices.TryGetValue(setId, out var choice)) return;
        if (session.ShownIfAny is not { } shown || !shown.TryGetValue(choice.GenerationId, out var chosen)) return;
        if (session.CandidateSetsIfAny is not { } sets || !sets.TryGetValue(setId, out var members)) return;
        if (newMemberId is not null && newMemberId != chosen.GenerationId)
        {
            Emit(session, PairSignals.Comparison, chosen.Input, chosen.GenerationId, chosen.Output, chosen.ModelVersion,
                shown[newMemberId], choice.UserId, choice.At);
            return;
        }
        foreach (var memberId in members)
        {
            if (memberId == chosen.GenerationId) continue;
            var rejected = shown[memberId];
            if (!Emit(session, PairSignals.Comparison, chosen.Input, chosen.GenerationId, chosen.Output, chosen.ModelVersion,
                    rejected, choice.UserId, choice.At))
            {
                return;
            }
        }
    }

    /// <summary>Rule 2: the user's edit preferred over the original, inside the edit-distance band.</summary>
    private void FireEdit(SessionState session, FeedbackEvent evt, GenerationEdited edit, ShownGeneration original)
    {
        if (!session.Rules.IsEnabled(PairSignals.Edit)) return;
        // Both bounds come before any quadratic work (issue 10, finding 7): a text past the length limit is not
        // measured at all, and the measurement stops as soon as the distance must exceed the band.
        if (edit.EditedOutput.Length > settings.MaxEditTextLength || original.Output.Length > settings.MaxEditTextLength)
        {
            counters.EditsOverTextLimit++;
            return;
        }
        var distance = EditDistance.NormalizedWithin(edit.EditedOutput, original.Output, settings.MaxEditDistance);
        if (distance is not { } d || d < settings.MinEditDistance || d > settings.MaxEditDistance)
        {
            counters.EditsOutsideBand++;
            return;
        }
        Emit(session, PairSignals.Edit, original.Input, evt.EventId, edit.EditedOutput, PreferencePair.UserEditModelVersion,
            original, evt.UserId, evt.OccurredAt);
    }

    /// <summary>Rule 3: when the last member of a regenerate chain got a positive signal, it beats every earlier member.</summary>
    private void TryFireChain(SessionState session, string lastId)
    {
        if (!session.Rules.IsEnabled(PairSignals.Regenerate)) return;
        if (session.PositiveIfAny is not { } positives || !positives.TryGetValue(lastId, out var positive)) return;
        if (session.ReplacedByIfAny?.ContainsKey(lastId) == true) return; // not the end of its chain
        if (session.ReplacesIfAny?.ContainsKey(lastId) != true) return; // no chain
        if (!ChainFullyShown(session, lastId)) return;
        var winner = session.Shown[lastId];
        foreach (var earlierId in Predecessors(session, lastId))
        {
            if (!Emit(session, PairSignals.Regenerate, winner.Input, winner.GenerationId, winner.Output, winner.ModelVersion,
                    session.Shown[earlierId], positive.UserId, positive.At))
            {
                return;
            }
        }
    }

    private static bool ChainFullyShown(SessionState session, string lastId)
    {
        if (session.ShownIfAny is not { } shown || !shown.ContainsKey(lastId)) return false;
        foreach (var id in Predecessors(session, lastId))
        {
            if (!shown.ContainsKey(id)) return false;
        }
        return true;
    }

    /// <summary>g(n-1), …, g1 of the chain ending at <paramref name="lastId"/>; cycles and absurd lengths stop the walk.</summary>
    private static IEnumerable<string> Predecessors(SessionState session, string lastId)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { lastId };
        var current = lastId;
        var replaces = session.ReplacesIfAny;
        while (seen.Count <= MaxChainLength && replaces is not null && replaces.TryGetValue(current, out var previous) && seen.Add(previous))
        {
            yield return previous;
            current = previous;
        }
    }

    /// <summary>The chain ends reachable forward from <paramref name="generationId"/> (at most one per chain).</summary>
    private static IEnumerable<string> LastMembersTouching(SessionState session, string generationId)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { generationId };
        var current = generationId;
        var replacedBy = session.ReplacedByIfAny;
        while (seen.Count <= MaxChainLength && replacedBy is not null && replacedBy.TryGetValue(current, out var next) && seen.Add(next)) current = next;
        yield return current;
    }

    /// <summary>
    /// Rule 4: identical input, one final thumb up and one final thumb down (same user). Ups and downs are walked
    /// in (generation id, user id) order, not arrival order, so when the pair budget cuts the rule short the
    /// pairs kept are the same whatever order the thumbs arrived in; the walk stops at the budget, so a hostile
    /// session costs at most ups × downs comparisons, never ups × downs rows.
    /// </summary>
    private void EmitThumbContrasts(SessionState session)
    {
        if (session.ThumbsIfAny is not { } thumbs || session.ShownIfAny is not { } shown) return;
        var ups = new List<(ShownGeneration Generation, string UserId, DateTimeOffset At)>();
        var downs = new List<(ShownGeneration Generation, string UserId, DateTimeOffset At)>();
        foreach (var ((generationId, userId), thumb) in thumbs)
        {
            if (!shown.TryGetValue(generationId, out var generation)) continue;
            (thumb.Positive ? ups : downs).Add((generation, userId, thumb.At));
        }
        if (ups.Count == 0 || downs.Count == 0) return;
        Comparison<(ShownGeneration Generation, string UserId, DateTimeOffset At)> order = (a, b) =>
        {
            var byGeneration = string.CompareOrdinal(a.Generation.GenerationId, b.Generation.GenerationId);
            return byGeneration != 0 ? byGeneration : string.CompareOrdinal(a.UserId, b.UserId);
        };
        ups.Sort(order);
        downs.Sort(order);
        foreach (var up in ups)
        {
            foreach (var down in downs)
            {
                if (up.UserId != down.UserId || up.Generation.InputKey != down.Generation.InputKey) continue;
                if (!SameInput(up.Generation.Input, down.Generation.Input)) continue;
                var firedAt = up.At > down.At ? up.At : down.At;
                if (!Emit(session, PairSignals.Thumbs, up.Generation.Input, up.Generation.GenerationId, up.Generation.Output,
                        up.Generation.ModelVersion, down.Generation, up.UserId, firedAt))
                {
                    return;
                }
            }
        }
    }

    /// <summary>Rule 5: one row per (generation, user) with a final thumb, else a rating other than 3.</summary>
    private void EmitLabels(SessionState session)
    {
        if (session.ShownIfAny is not { } shown) return; // a label needs its generation shown
        var thumbs = session.ThumbsIfAny;
        if (thumbs is not null)
        {
            foreach (var ((generationId, userId), thumb) in thumbs)
            {
                if (shown.TryGetValue(generationId, out var generation))
                    EmitLabel(session, generation, userId, thumb.Positive, thumb.At);
            }
        }
        if (session.RatingsIfAny is not { } ratings) return;
        foreach (var ((generationId, userId), rating) in ratings)
        {
            if (rating.Score == 3 || thumbs?.ContainsKey((generationId, userId)) == true) continue;
            if (shown.TryGetValue(generationId, out var generation))
                EmitLabel(session, generation, userId, rating.Score >= 4, rating.At);
        }
    }

    private void EmitLabel(SessionState session, ShownGeneration generation, string userId, bool label, DateTimeOffset at)
    {
        counters.LabelsEmitted++;
        output.Labels.Add(new FeedbackLabel(
            StableId.Label(generation.GenerationId, userId), session.AppId, generation.Input,
            new ConversationTurn("assistant", generation.Output), label, generation.GenerationId, generation.ModelVersion,
            session.SessionId, userId, at));
    }

    /// <summary>
    /// Emits one pair unless this session already did, or its rule spent its pair budget. Returns false once the
    /// budget is spent, so a caller walking many candidates can stop. Rules 1–3 fire in arrival order, which a
    /// replay of the partition repeats, so the pairs kept under the budget are the same on every run.
    /// </summary>
    private bool Emit(
        SessionState session, string signal, IReadOnlyList<ConversationTurn> prompt,
        string chosenId, string chosenText, string chosenModelVersion,
        ShownGeneration rejected, string userId, DateTimeOffset at)
    {
        var pairId = StableId.Pair(signal, chosenId, rejected.GenerationId);
        if (session.EmittedPairs.Contains(pairId)) return true;
        var emitted = session.PairsBySignal.GetValueOrDefault(signal);
        if (emitted >= settings.MaxPairsPerSessionPerRule)
        {
            // Counted once per (session, rule), at the first pair the budget refuses.
            if (session.PairBudgetSpent.Add(signal)) counters.PairBudgetHits++;
            return false;
        }
        session.EmittedPairs.Add(pairId);
        session.EstimatedBytes += SessionBudget.Entry(pairId);
        counters.PairsEmitted++;
        output.Pairs.Add(new PreferencePair(
            pairId, session.AppId, prompt,
            new ConversationTurn("assistant", chosenText), new ConversationTurn("assistant", rejected.Output),
            signal, session.Rules.WeightOf(signal), chosenId, rejected.GenerationId, chosenModelVersion, rejected.ModelVersion,
            session.SessionId, userId, at));
        session.PairsBySignal[signal] = emitted + 1;
        return true;
    }

    private static void RecordLatest(
        SessionState session, Dictionary<(string, string), FinalFeedback> finals, (string, string) key, FinalFeedback candidate)
    {
        if (!finals.TryGetValue(key, out var current))
        {
            finals[key] = candidate;
            session.EstimatedBytes += SessionBudget.Entry(key.Item1, key.Item2);
        }
        else if (candidate.At >= current.At)
        {
            finals[key] = candidate;
        }
    }

    /// <summary>A cheap grouping key for identical inputs; equality is then confirmed message by message.</summary>
    internal static int InputKey(IReadOnlyList<ConversationTurn> input)
    {
        var hash = new HashCode();
        // Indexed, not foreach: enumerating the interface would box the list's enumerator for every shown generation.
        for (var i = 0; i < input.Count; i++)
        {
            hash.Add(input[i].Role, StringComparer.Ordinal);
            hash.Add(input[i].Content, StringComparer.Ordinal);
        }
        return hash.ToHashCode();
    }

    private static bool SameInput(IReadOnlyList<ConversationTurn> a, IReadOnlyList<ConversationTurn> b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a.Count != b.Count) return false;
        for (var i = 0; i < a.Count; i++)
        {
            if (a[i].Role != b[i].Role || a[i].Content != b[i].Content) return false;
        }
        return true;
    }
}
