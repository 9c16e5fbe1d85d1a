using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Training.Rewards;
using FeedbackLoop.Training.Tests.Support;

namespace FeedbackLoop.Training.Tests;

/// <summary>Feedback labels train the same reward as the pairs; weight 0 leaves the pairs-only model exactly as it was.</summary>
public sealed class RewardModelLabelTests
{
    private static readonly IReadOnlyList<ConversationTurn> Prompt = [new ConversationTurn("user", "How do I do it?")];

    // Two phrases no pair mentions: only the labels can tell the model which one users like.
    private const string Liked = "here is a checklist you can print";
    private const string Disliked = "this depends on many unknown factors";

    private static List<FeedbackLabel> Labels(int count) =>
    [
        .. Enumerable.Range(0, count).Select(i => Label($"l-{i}", i % 2 == 0 ? $"{Liked}, item {i}" : $"{Disliked}, item {i}", up: i % 2 == 0)),
    ];

    private static FeedbackLabel Label(string id, string text, bool up) => new(
        id, "app", Prompt, new ConversationTurn("assistant", text), up, $"g-{id}", "model-a", $"s-{id}", "u-1",
        new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Labels_teach_what_no_pair_shows()
    {
        var pairs = StylePairs.Tiny(20);
        var pairsOnly = RewardModelTrainer.Train(pairs, new RewardTrainingOptions { Version = "p" });
        var withLabels = RewardModelTrainer.Train(pairs, new RewardTrainingOptions { Version = "l" }, Labels(60));

        var before = pairsOnly.Score(Prompt, Liked) - pairsOnly.Score(Prompt, Disliked);
        var after = withLabels.Score(Prompt, Liked) - withLabels.Score(Prompt, Disliked);
        Assert.True(after > 0, "the liked phrase scores higher once labels train");
        Assert.True(after > before + 0.1, $"labels moved the gap from {before:0.000} to {after:0.000}");
    }

    [Fact]
    public void Labels_do_not_undo_what_the_pairs_taught()
    {
        var train = StylePairs.Train();
        var heldOut = StylePairs.HeldOut();
        var withLabels = RewardModelTrainer.Train(train, new RewardTrainingOptions { Version = "l" }, Labels(200));
        Assert.True(PairwiseEvaluator.Evaluate(withLabels, heldOut).Accuracy >= 0.9);
    }

    [Fact]
    public void Label_weight_zero_is_the_pairs_only_model_and_a_label_seen_twice_counts_once()
    {
        var pairs = StylePairs.Tiny(20);
        var pairsOnly = RewardModelTrainer.Train(pairs, new RewardTrainingOptions { Version = "p" });
        var weightZero = RewardModelTrainer.Train(pairs, new RewardTrainingOptions { Version = "z", LabelWeight = 0 }, Labels(60));
        var once = RewardModelTrainer.Train(pairs, new RewardTrainingOptions { Version = "o" }, Labels(60));
        var twice = RewardModelTrainer.Train(pairs, new RewardTrainingOptions { Version = "t" }, [.. Labels(60), .. Labels(60)]);

        foreach (var text in new[] { Liked, Disliked, pairs[0].Chosen.Content, pairs[0].Rejected.Content })
        {
            Assert.Equal(pairsOnly.Score(Prompt, text), weightZero.Score(Prompt, text));
            Assert.Equal(once.Score(Prompt, text), twice.Score(Prompt, text));
        }
    }

    [Theory]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void A_label_weight_that_cannot_hold_is_refused(float weight) =>
        Assert.Throws<ArgumentException>(() => RewardModelTrainer.Train(StylePairs.Tiny(5), new RewardTrainingOptions { Version = "x", LabelWeight = weight }, Labels(4)));
}
