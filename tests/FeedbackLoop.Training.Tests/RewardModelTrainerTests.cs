using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Training.Rewards;
using FeedbackLoop.Training.Tests.Support;

namespace FeedbackLoop.Training.Tests;

public sealed class RewardModelTrainerTests
{
    private static readonly RewardTrainingOptions Options = new() { Version = "reward-test-1", Seed = 7 };

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Trained_model_ranks_held_out_pairs_on_unseen_topics_well_above_chance(int charNgramLength)
    {
        var model = RewardModelTrainer.Train(StylePairs.Train(), Options with { CharNgramLength = charNgramLength });

        var outcomes = PairwiseEvaluator.Evaluate(model, StylePairs.HeldOut());

        Assert.Equal(100, outcomes.Count);
        Assert.True(outcomes.Accuracy >= 0.7, $"held-out pairwise accuracy {outcomes.Accuracy}");
    }

    [Fact]
    public void Two_trainings_on_the_same_pairs_with_the_same_seed_give_identical_outcomes_and_scores()
    {
        var first = RewardModelTrainer.Train(StylePairs.Train(), Options);
        var second = RewardModelTrainer.Train(StylePairs.Train(), Options);

        Assert.Equal(
            PairwiseEvaluator.Evaluate(first, StylePairs.HeldOut()).Outcomes,
            PairwiseEvaluator.Evaluate(second, StylePairs.HeldOut()).Outcomes);
        Assert.Equal(ScoresOf(first), ScoresOf(second));
    }

    [Fact]
    public void Model_reports_the_version_it_was_trained_under()
    {
        var model = RewardModelTrainer.Train(StylePairs.Tiny(5), Options);

        Assert.Equal("reward-test-1", model.Version);
        Assert.Equal(5, model.TrainedPairs);
    }

    [Fact]
    public void Model_trained_on_coin_flip_labels_ranks_held_out_pairs_near_chance()
    {
        // The control for the accuracy test above: the same texts with coin-flip labels carry no style signal.
        var random = new Random(3);
        var shuffled = StylePairs.Train()
            .Select(p => random.Next(2) == 0 ? p : p with { Chosen = p.Rejected, Rejected = p.Chosen })
            .ToArray();

        var model = RewardModelTrainer.Train(shuffled, Options);

        Assert.InRange(PairwiseEvaluator.Evaluate(model, StylePairs.HeldOut()).Accuracy, 0.3, 0.7);
    }

    [Fact]
    public void Five_pairs_are_enough_to_train_a_model_that_prefers_their_chosen_side()
    {
        var pairs = StylePairs.Tiny(5);

        var model = RewardModelTrainer.Train(pairs, Options);

        Assert.Equal(1.0, PairwiseEvaluator.Evaluate(model, pairs).Accuracy);
    }

    [Fact]
    public void A_pair_delivered_twice_counts_once_in_training_and_in_evaluation()
    {
        var pairs = StylePairs.Train();
        var redelivered = pairs.Concat(pairs.Take(50)).ToArray();

        var once = RewardModelTrainer.Train(pairs, Options);
        var twice = RewardModelTrainer.Train(redelivered, Options);

        Assert.Equal(pairs.Count, twice.TrainedPairs);
        Assert.Equal(ScoresOf(once), ScoresOf(twice));
        Assert.Equal(pairs.Count, PairwiseEvaluator.Evaluate(once, redelivered).Count);
    }

    [Fact]
    public void Empty_training_input_is_refused()
    {
        var thrown = Assert.Throws<ArgumentException>(() => RewardModelTrainer.Train([], Options));

        Assert.Equal("train", thrown.ParamName);
        Assert.Contains("zero preference pairs", thrown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_pair_with_a_negative_or_non_finite_weight_is_refused(double weight)
    {
        PreferencePair[] pairs = [StylePairs.Pair("p1", "short. e.g. `x`", "well, maybe"), StylePairs.Pair("p2", "a", "b", weight)];

        Assert.Throws<ArgumentException>(() => RewardModelTrainer.Train(pairs, Options));
    }

    [Fact]
    public void Pairs_whose_two_responses_are_identical_train_a_model_that_calls_them_ties()
    {
        PreferencePair[] pairs = [StylePairs.Pair("p1", "same answer", "same answer"), StylePairs.Pair("p2", "", "")];

        var model = RewardModelTrainer.Train(pairs, Options);

        // A tie is not a correct ranking.
        Assert.Equal(0.0, PairwiseEvaluator.Evaluate(model, pairs).Accuracy);
    }

    [Fact]
    public void Responses_with_words_never_seen_in_training_still_get_a_score()
    {
        var model = RewardModelTrainer.Train(StylePairs.Tiny(5), Options);

        Assert.True(double.IsFinite(model.Score([], "zyxwv qqqq ⊕ 生成")));
        Assert.True(double.IsFinite(model.Score([], "")));
    }

    [Fact]
    public void Concurrent_scoring_gives_the_same_scores_as_sequential_scoring()
    {
        var model = RewardModelTrainer.Train(StylePairs.Train(), Options);
        var responses = StylePairs.HeldOut().SelectMany(p => new[] { p.Chosen.Content, p.Rejected.Content }).ToArray();
        var sequential = responses.Select(r => model.Score([], r)).ToArray();

        var concurrent = new double[responses.Length];
        Parallel.For(0, responses.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 },
            i => concurrent[i] = model.Score([], responses[i]));

        Assert.Equal(sequential, concurrent);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public async Task Saved_and_loaded_model_gives_identical_scores_and_keeps_its_version(int charNgramLength)
    {
        var model = RewardModelTrainer.Train(StylePairs.Train(), Options with { CharNgramLength = charNgramLength });
        using var folder = new TempFolder("reward");
        var directory = folder.Combine("model");

        await model.SaveAsync(directory);
        var loaded = await RewardModel.LoadAsync(directory);

        Assert.Equal(ScoresOf(model), ScoresOf(loaded));
        Assert.Equal(model.Version, loaded.Version);
        Assert.Equal(model.TrainedPairs, loaded.TrainedPairs);
        // No temporary files are left behind.
        Assert.Equal(
            [RewardModel.ModelFileName, RewardModel.ManifestFileName],
            Directory.GetFiles(directory).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public async Task Loading_a_directory_without_a_model_fails_with_the_missing_file()
    {
        using var directory = new TempFolder("reward");

        await Assert.ThrowsAsync<FileNotFoundException>(() => RewardModel.LoadAsync(directory));
    }

    [Fact]
    public async Task Loading_a_model_saved_in_another_format_is_refused()
    {
        var model = RewardModelTrainer.Train(StylePairs.Tiny(5), Options);
        using var folder = new TempFolder("reward");
        var directory = folder.Combine("model");
        await model.SaveAsync(directory);
        var manifest = Path.Combine(directory, RewardModel.ManifestFileName);
        await File.WriteAllTextAsync(manifest, (await File.ReadAllTextAsync(manifest)).Replace(".v1", ".v0", StringComparison.Ordinal));

        await Assert.ThrowsAsync<InvalidDataException>(() => RewardModel.LoadAsync(directory));
    }

    private static double[] ScoresOf(RewardModel model) =>
        [.. StylePairs.HeldOut().SelectMany(p => new[] { model.Score(p.Prompt, p.Chosen.Content), model.Score(p.Prompt, p.Rejected.Content) })];
}
