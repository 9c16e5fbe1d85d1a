using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Training.Rewards;
using FeedbackLoop.Training.Tests.Support;

namespace FeedbackLoop.Training.Tests;

/// <summary>With a half-life, recent feedback outvotes old feedback where users changed their minds; without one, nothing changes.</summary>
public sealed class RecencyWeightTests
{
    private static readonly IReadOnlyList<ConversationTurn> Prompt = [new ConversationTurn("user", "How do I do it?")];
    private static readonly DateTimeOffset Start = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    private const string Short = "keep it short and quick";
    private const string Thorough = "let me go deeper into every step";

    // Users liked short answers for a day (60 labels), then thorough ones (30 labels): fewer, but newer.
    private static List<FeedbackLabel> DriftedLabels() =>
    [
        .. Enumerable.Range(0, 60).Select(i => Label($"old-{i}", i % 2 == 0 ? Short : Thorough, up: i % 2 == 0, Start + TimeSpan.FromMinutes(i))),
        .. Enumerable.Range(0, 30).Select(i => Label($"new-{i}", i % 2 == 0 ? Thorough : Short, up: i % 2 == 0, Start + TimeSpan.FromDays(1) + TimeSpan.FromMinutes(i))),
    ];

    private static FeedbackLabel Label(string id, string text, bool up, DateTimeOffset at) => new(
        id, "app", Prompt, new ConversationTurn("assistant", $"{text} ({id})"), up, $"g-{id}", "model-a", $"s-{id}", "u-1", at);

    private static double ThoroughOverShort(RewardModel model) => model.Score(Prompt, Thorough) - model.Score(Prompt, Short);

    [Fact]
    public void Without_a_half_life_the_older_majority_wins_and_with_one_the_newer_taste_wins()
    {
        IReadOnlyList<PreferencePair> pairs = [.. StylePairs.Tiny(10).Select(p => p with { CreatedAt = Start })];
        var everyRowAlike = RewardModelTrainer.Train(pairs, new RewardTrainingOptions { Version = "a" }, DriftedLabels());
        var recentFirst = RewardModelTrainer.Train(pairs, new RewardTrainingOptions { Version = "r", RecencyHalfLife = TimeSpan.FromHours(6) }, DriftedLabels());

        Assert.True(ThoroughOverShort(everyRowAlike) < 0, $"60 old labels outvote 30 new ones at equal weight: {ThoroughOverShort(everyRowAlike):0.000}");
        Assert.True(ThoroughOverShort(recentFirst) > 0, $"a day is four half-lives: the 30 new labels win: {ThoroughOverShort(recentFirst):0.000}");
    }

    [Fact]
    public void Weights_halve_per_half_life_back_from_the_newest_row_and_never_exceed_one()
    {
        var weights = RecencyWeights.Of(TimeSpan.FromHours(1), [Start, Start + TimeSpan.FromHours(3)]);

        Assert.Equal(1, weights.Of(Start + TimeSpan.FromHours(3)));
        Assert.Equal(0.5, weights.Of(Start + TimeSpan.FromHours(2)), 12);
        Assert.Equal(0.125, weights.Of(Start), 12);
        Assert.Equal(1, weights.Of(Start + TimeSpan.FromHours(5)));
        Assert.Equal(1, RecencyWeights.Of(null, [Start, Start + TimeSpan.FromDays(30)]).Of(Start));
    }

    [Fact]
    public void The_same_rows_give_the_same_model_whenever_training_runs()
    {
        var options = new RewardTrainingOptions { Version = "r", RecencyHalfLife = TimeSpan.FromHours(6) };
        var first = RewardModelTrainer.Train(StylePairs.Tiny(10), options, DriftedLabels());
        var second = RewardModelTrainer.Train(StylePairs.Tiny(10), options, DriftedLabels());

        Assert.Equal(ThoroughOverShort(first), ThoroughOverShort(second));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-60)]
    public void A_half_life_that_is_not_positive_is_refused(int minutes) =>
        Assert.Throws<ArgumentException>(() => RewardModelTrainer.Train(StylePairs.Tiny(5),
            new RewardTrainingOptions { Version = "x", RecencyHalfLife = TimeSpan.FromMinutes(minutes) }, DriftedLabels()));
}
