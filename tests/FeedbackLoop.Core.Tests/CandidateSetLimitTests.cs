using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Core.Tests.Support;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// The candidate-set limit (docs/contract/rules.md, "Settings"): a set holds at most
/// <see cref="ExtractionSettings.MaxCandidatesPerSet"/> members, so a <c>comparison.chosen</c> costs at most that much
/// work however many shown events name the set, and later members are counted, tracked and never compared.
/// </summary>
public sealed class CandidateSetLimitTests
{
    /// <summary>members shown, limit → comparison pairs, members refused.</summary>
    public static TheoryData<int, int, int, int> Sets() => new()
    {
        { 2, 16, 1, 0 },
        { 16, 16, 15, 0 },
        { 17, 16, 15, 1 },
        { 40, 16, 15, 24 },
        { 5, 3, 2, 2 },
    };

    [Theory]
    [MemberData(nameof(Sets))]
    public void A_full_set_takes_no_more_members_and_counts_each_refused_one(int members, int limit, int pairs, int refused)
    {
        var script = new SessionScript();
        for (var i = 0; i < members; i++) script.Shown($"c{i:D2}", candidateSet: "cs");
        var extractor = script.Chose("cs", "c00").RunToEnd(new ExtractionSettings { MaxCandidatesPerSet = limit, MaxPairsPerSessionPerRule = int.MaxValue });

        Assert.Equal(pairs, extractor.Output.Pairs.Count(p => p.Signal == PairSignals.Comparison));
        Assert.Equal(refused, extractor.Counters.CandidatesOverSetLimit);
        // Refused members are still shown generations: they are counted as shown, just never compared.
        Assert.Equal(members, extractor.Output.Windows.Sum(w => w.Shown));
    }

    [Fact]
    public void Repeated_choices_over_a_huge_set_count_losses_only_for_the_members_it_holds()
    {
        // The attack: one set named on 2,000 shown events, then the same choice 500 times. Without the limit every choice
        // counted 1,999 losses (about a million engagement updates) and no session budget stopped it.
        var script = new SessionScript();
        for (var i = 0; i < 2_000; i++) script.Shown($"c{i:D4}", candidateSet: "cs");
        for (var i = 0; i < 500; i++) script.Chose("cs", "c0000");
        var extractor = script.RunToEnd();

        Assert.Equal(16, new ExtractionSettings().MaxCandidatesPerSet);
        Assert.Equal(2_000 - 16, extractor.Counters.CandidatesOverSetLimit);
        Assert.Equal(500 * 15, extractor.Output.Windows.Sum(w => w.ComparisonsLost));
    }
}
