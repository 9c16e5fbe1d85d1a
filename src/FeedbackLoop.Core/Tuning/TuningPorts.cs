using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Gating;
using FeedbackLoop.Core.Runs;

namespace FeedbackLoop.Core.Tuning;

/// <summary>Takes snapshots of an app's committed preference pairs and reads them back.</summary>
public interface ISnapshotSource
{
    /// <summary>The app's committed preference-pair files as of now.</summary>
    Task<DatasetSnapshot> CaptureAsync(string appId, CancellationToken cancellationToken = default);

    /// <summary>The pairs of exactly the snapshot's files (review applied when it names a reviewed snapshot).</summary>
    Task<IReadOnlyList<PreferencePair>> ReadAsync(DatasetSnapshot snapshot, CancellationToken cancellationToken = default);

    /// <summary>
    /// The feedback labels frozen with a reviewed snapshot (review applied); none by default and for a snapshot that
    /// names no reviewed snapshot, whose files are pair files only.
    /// </summary>
    Task<IReadOnlyList<FeedbackLabel>> ReadLabelsAsync(DatasetSnapshot snapshot, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<FeedbackLabel>>([]);

    /// <summary>
    /// Freezes what a run will train on, once the run is decided: by default the captured files as they are; the dataset
    /// store's source takes a reviewed snapshot, so the run trains with the latest review decisions applied and the
    /// registry records which snapshot.
    /// </summary>
    Task<DatasetSnapshot> FreezeAsync(DatasetSnapshot captured, CancellationToken cancellationToken = default) => Task.FromResult(captured);

    /// <summary>
    /// For a command trainer, which reads files rather than pairs: writes what a reviewed snapshot trains on into
    /// <paramref name="folder"/> as one file in the dataset's format and returns its path. Null when the snapshot names
    /// no reviewed snapshot (or the source cannot write one): its files are then given to the trainer as they are.
    /// </summary>
    Task<string?> WriteReviewedAsync(DatasetSnapshot snapshot, string folder, CancellationToken cancellationToken = default) =>
        Task.FromResult<string?>(null);

    /// <summary>
    /// How many of the app's pairs are new since <paramref name="since"/> (the last run's snapshot; null before the first
    /// run) and how many of those carry a review decision, for a pipeline whose <c>review.required</c> is on. A source
    /// without a review log cannot answer, and says so rather than letting an unreviewed run through.
    /// </summary>
    Task<ReviewProgress> ReviewProgressAsync(string appId, DatasetSnapshot? since, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} keeps no review log, so a pipeline with review.required cannot run on it");
}

/// <summary>Trains a candidate reward model and stores it as an artifact folder.</summary>
public interface IRewardModelTrainer
{
    /// <summary>
    /// Trains on the pairs <paramref name="train"/> and the feedback <paramref name="labels"/> of the same snapshot (a
    /// trainer may ignore labels) and writes the artifact to <paramref name="artifactDirectory"/>.
    /// </summary>
    Task<TrainingMetrics> TrainAsync(IReadOnlyList<PreferencePair> train, IReadOnlyList<FeedbackLabel> labels, int seed, string version, string artifactDirectory, CancellationToken cancellationToken = default);
}

/// <summary>Scores a stored model on held-out pairs.</summary>
public interface IPairwiseEvaluator
{
    /// <summary>Per-pair correctness of the model stored in <paramref name="artifactDirectory"/>.</summary>
    Task<PairwiseOutcomes> EvaluateAsync(string artifactDirectory, IReadOnlyList<PreferencePair> evalPairs, CancellationToken cancellationToken = default);
}

/// <summary>What training reports about itself.</summary>
public sealed record TrainingMetrics(int TrainPairs, double TrainAccuracy, double Seconds);
