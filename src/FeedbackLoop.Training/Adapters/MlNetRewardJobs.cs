using System.Diagnostics;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Core.Tuning;
using FeedbackLoop.Training.Rewards;

namespace FeedbackLoop.Training.Adapters;

/// <summary>The <c>mlnet-reward</c> trainer behind the orchestration's <see cref="IRewardModelTrainer"/> port.</summary>
/// <param name="settings">
/// The trainer's settings other than version and seed, which each job gives; the documented defaults of
/// <see cref="RewardTrainingOptions"/> when null.
/// </param>
public sealed class MlNetRewardTrainer(RewardTrainingOptions? settings = null) : IRewardModelTrainer
{
    /// <inheritdoc />
    public async Task<TrainingMetrics> TrainAsync(IReadOnlyList<PreferencePair> train, IReadOnlyList<FeedbackLabel> labels, int seed, string version, string artifactDirectory, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        // Training is CPU-bound and synchronous in ML.NET; run it off the bus's thread.
        var model = await Task.Run(() => RewardModelTrainer.Train(train, settings is null ? new RewardTrainingOptions { Version = version, Seed = seed } : settings with { Version = version, Seed = seed }, labels), cancellationToken).ConfigureAwait(false);
        await model.SaveAsync(artifactDirectory, cancellationToken).ConfigureAwait(false);
        var trainAccuracy = PairwiseEvaluator.Evaluate(model, train).Accuracy;
        return new TrainingMetrics(train.Count, trainAccuracy, clock.Elapsed.TotalSeconds);
    }
}

/// <summary>Pairwise accuracy of a stored reward model, behind the <see cref="IPairwiseEvaluator"/> port.</summary>
public sealed class MlNetPairwiseEvaluator : IPairwiseEvaluator
{
    /// <inheritdoc />
    public async Task<PairwiseOutcomes> EvaluateAsync(string artifactDirectory, IReadOnlyList<PreferencePair> evalPairs, CancellationToken cancellationToken = default)
    {
        var model = await RewardModel.LoadAsync(artifactDirectory, cancellationToken).ConfigureAwait(false);
        return PairwiseEvaluator.Evaluate(model, evalPairs);
    }
}
