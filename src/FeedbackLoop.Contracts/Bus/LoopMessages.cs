namespace FeedbackLoop.Contracts.Bus;

// Bus messages of the closed loop. Events are in the past tense, commands imperative; every message
// carries the ids that make its handler idempotent (run id, candidate version).

/// <summary>New preference rows of an app are durable in its dataset.</summary>
/// <param name="AppId">The app.</param>
/// <param name="PairsWritten">Pairs added by this write.</param>
/// <param name="TraceParent">
/// The W3C <c>traceparent</c> of the extractor's <c>extraction.commit</c> span that made the rows durable (see
/// <see cref="Contracts.TraceParent"/>), so the run it triggers continues the trace that began in the app; null
/// when the write was not traced or the message did not come from an extractor.
/// </param>
public sealed record DatasetCommitted(string AppId, int PairsWritten, string? TraceParent = null);

/// <summary>The candidate was trained and stored.</summary>
/// <param name="RunId">The run.</param>
/// <param name="AppId">The app.</param>
/// <param name="CandidateVersion">The candidate.</param>
/// <param name="TrainPairs">Pairs it was trained on (the trainer's <c>train_pairs</c>; 0 when it does not say).</param>
/// <param name="TrainAccuracy">Accuracy on its own training pairs, when the trainer reports one.</param>
public sealed record TuningCompleted(string RunId, string AppId, string CandidateVersion, int TrainPairs, double? TrainAccuracy);

/// <summary>Training failed; the run ends without a candidate.</summary>
/// <param name="RunId">The run.</param>
/// <param name="AppId">The app.</param>
/// <param name="Reason">Why, for people.</param>
public sealed record TuningFailed(string RunId, string AppId, string Reason);

/// <summary>The candidate could not be evaluated (its eval job failed or was cancelled); the run ends without a decision.</summary>
/// <param name="RunId">The run.</param>
/// <param name="AppId">The app.</param>
/// <param name="CandidateVersion">The candidate, which stays undecided (a person may still promote it by hand).</param>
/// <param name="Reason">Why, for people.</param>
public sealed record EvaluationFailed(string RunId, string AppId, string CandidateVersion, string Reason);

/// <summary>The candidate and incumbent were scored on the same held-out pairs and the gate decided.</summary>
/// <param name="RunId">The run.</param>
/// <param name="AppId">The app.</param>
/// <param name="CandidateVersion">The candidate.</param>
/// <param name="IncumbentVersion">The incumbent, if any.</param>
/// <param name="EvalPairs">Held-out pairs scored.</param>
/// <param name="CandidateAccuracy">Candidate's pairwise accuracy.</param>
/// <param name="IncumbentAccuracy">Incumbent's, if any.</param>
/// <param name="Promote">The gate's decision.</param>
/// <param name="Reason">The gate's reason, with numbers.</param>
public sealed record EvaluationCompleted(string RunId, string AppId, string CandidateVersion, string? IncumbentVersion, int EvalPairs, double CandidateAccuracy, double? IncumbentAccuracy, bool Promote, string Reason);

/// <summary>The candidate is now the app's model.</summary>
/// <param name="AppId">The app.</param>
/// <param name="Version">The promoted version.</param>
/// <param name="PreviousVersion">The one it replaced.</param>
/// <param name="ArtifactPath">Where the model is stored.</param>
public sealed record ModelPromoted(string AppId, string Version, string? PreviousVersion, string ArtifactPath);

/// <summary>The candidate passed the gate, and the pipeline wants a person to approve it before it is promoted.</summary>
/// <param name="AppId">The app.</param>
/// <param name="Version">The candidate waiting for sign-off (<c>feedbackloop models approve</c>).</param>
/// <param name="Reason">The gate's reason, with numbers.</param>
public sealed record CandidateAwaitingSignoff(string AppId, string Version, string Reason);

/// <summary>The gate kept the incumbent.</summary>
/// <param name="AppId">The app.</param>
/// <param name="Version">The rejected candidate.</param>
/// <param name="Reason">The gate's reason, with numbers.</param>
public sealed record CandidateRejected(string AppId, string Version, string Reason);

/// <summary>
/// A person rolled an app back (<c>feedbackloop models rollback</c>): <paramref name="Version"/> serves again in place of
/// <paramref name="RolledBackVersion"/>. Announced by the orchestrator from the store, at least once: apps switch by
/// version, so a repeat changes nothing.
/// </summary>
/// <param name="AppId">The app.</param>
/// <param name="Version">The version that serves now.</param>
/// <param name="RolledBackVersion">The version it replaced; null when the app had none current.</param>
/// <param name="ArtifactPath">Where the version that serves now lies.</param>
/// <param name="Actor">Who rolled back.</param>
/// <param name="Reason">Why, if they said.</param>
public sealed record ModelRolledBack(string AppId, string Version, string? RolledBackVersion, string ArtifactPath, string Actor, string? Reason);
