using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Training.Rewards;
using FeedbackLoop.Training.Tests.Support;

namespace FeedbackLoop.Training.Tests;

/// <summary><see cref="RewardTrainingOptions.NgramsWithinLines"/>: n-grams never span a line break (docs/adr/0042).</summary>
public sealed class LineFeaturizationTests
{
    private static readonly RewardTrainingOptions Whole = new() { Version = "whole-1", Seed = 7 };
    private static readonly RewardTrainingOptions ByLine = Whole with { Version = "lines-1", NgramsWithinLines = true };

    // Two-line answers: the liked line says "keep it short", the disliked one "at some length"; the other line varies.
    private static readonly string[] Others = ["back up first.", "see the guide.", "happy to help!", "ask for more."];

    private static PreferencePair[] LinePairs() =>
        [.. Enumerable.Range(0, 40).Select(i => StylePairs.Pair($"p{i}",
            $"keep it short.\n{Others[i % Others.Length]}",
            $"{Others[(i + 1) % Others.Length]}\nat some length, with background.")),];

    [Fact]
    public void By_line_the_order_of_the_lines_does_not_change_a_score_and_as_one_text_it_does()
    {
        var byLine = RewardModelTrainer.Train(LinePairs(), ByLine);
        var whole = RewardModelTrainer.Train(LinePairs(), Whole);
        const string Forward = "keep it short.\nsee the guide.\nat some length, with background.";
        const string Reversed = "at some length, with background.\nsee the guide.\nkeep it short.";

        Assert.Equal(byLine.Score([], Forward), byLine.Score([], Reversed), 12);
        // The control: as one text, the bigrams across the line breaks differ, and so does the score.
        Assert.NotEqual(whole.Score([], Forward), whole.Score([], Reversed));
    }

    [Fact]
    public void By_line_blank_lines_and_surrounding_spaces_change_nothing()
    {
        var model = RewardModelTrainer.Train(LinePairs(), ByLine);

        Assert.Equal(model.Score([], "keep it short.\nsee the guide."), model.Score([], "\n  keep it short.  \n\n\r\nsee the guide.\r\n"), 12);
        Assert.Equal(0.0, model.Score([], "\n \n"));
    }

    [Fact]
    public void By_line_pairs_whose_answers_are_all_blank_are_refused_with_the_reason()
    {
        PreferencePair[] pairs = [StylePairs.Pair("p1", "", "\n"), StylePairs.Pair("p2", " ", "\r\n")];

        var thrown = Assert.Throws<ArgumentException>(() => RewardModelTrainer.Train(pairs, ByLine));

        Assert.Contains("every response is blank", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void By_line_a_blank_answer_among_others_scores_zero()
    {
        PreferencePair[] pairs = [.. LinePairs(), StylePairs.Pair("blank", "keep it short.", "")];

        var model = RewardModelTrainer.Train(pairs, ByLine);

        Assert.Equal(0.0, model.Score([], "\n \n"));
        Assert.True(model.Score([], "keep it short.") > model.Score([], ""));
    }

    [Fact]
    public void A_model_trained_by_line_prefers_the_liked_line_on_answers_it_never_saw()
    {
        var model = RewardModelTrainer.Train(LinePairs(), ByLine);

        Assert.True(model.Score([], "note the risk.\nkeep it short.") > model.Score([], "at some length, with background.\nnote the risk."));
        Assert.Equal(1.0, PairwiseEvaluator.Evaluate(model, LinePairs()).Accuracy);
    }

    [Fact]
    public void By_line_the_style_set_is_learnt_as_well_as_before()
    {
        // StylePairs answers are one line each: by line is the same featurization, so the held-out bar is the same.
        var model = RewardModelTrainer.Train(StylePairs.Train(), ByLine);

        Assert.True(PairwiseEvaluator.Evaluate(model, StylePairs.HeldOut()).Accuracy >= 0.7);
    }

    [Fact]
    public async Task A_model_trained_by_line_is_saved_in_the_lines_format_and_loads_with_identical_scores()
    {
        var model = RewardModelTrainer.Train(LinePairs(), ByLine);
        using var folder = new TempFolder("reward-lines");
        var directory = folder.Combine("model");

        await model.SaveAsync(directory);
        var loaded = await RewardModel.LoadAsync(directory);

        var manifest = await File.ReadAllTextAsync(Path.Combine(directory, RewardModel.ManifestFileName));
        Assert.Contains("\"format\": \"feedbackloop.reward-model.v2-lines\"", manifest, StringComparison.Ordinal);
        Assert.Contains("\"ngrams_within_lines\": true", manifest, StringComparison.Ordinal);
        string[] answers = ["keep it short.\nsee the guide.", "see the guide.\nkeep it short.", "at some length, with background.\nask for more."];
        Assert.Equal(answers.Select(a => model.Score([], a)), answers.Select(a => loaded.Score([], a)));
    }

    [Fact]
    public async Task A_model_trained_as_one_text_keeps_the_v1_format()
    {
        var model = RewardModelTrainer.Train(LinePairs(), Whole);
        using var folder = new TempFolder("reward-whole");
        var directory = folder.Combine("model");

        await model.SaveAsync(directory);

        var manifest = await File.ReadAllTextAsync(Path.Combine(directory, RewardModel.ManifestFileName));
        Assert.Contains("\"format\": \"feedbackloop.reward-model.v1\"", manifest, StringComparison.Ordinal);
        Assert.Contains("\"ngrams_within_lines\": false", manifest, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"ngrams_within_lines\": true", "\"ngrams_within_lines\": false")]
    [InlineData("reward-model.v2-lines", "reward-model.v1")]
    public async Task A_lines_model_whose_manifest_disagrees_with_its_format_is_refused(string from, string to)
    {
        // A v1 manifest claiming lines, or a lines format claiming none: scoring would featurize the wrong way, silently.
        var model = RewardModelTrainer.Train(LinePairs(), ByLine);
        using var folder = new TempFolder("reward-lines");
        var directory = folder.Combine("model");
        await model.SaveAsync(directory);
        var manifest = Path.Combine(directory, RewardModel.ManifestFileName);
        await File.WriteAllTextAsync(manifest, (await File.ReadAllTextAsync(manifest)).Replace(from, to, StringComparison.Ordinal));

        var thrown = await Assert.ThrowsAsync<InvalidDataException>(() => RewardModel.LoadAsync(directory));
        Assert.Contains("v2-lines", thrown.Message, StringComparison.Ordinal);
    }
}
