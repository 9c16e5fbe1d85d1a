using System.Text.Json;
using FeedbackLoop.Contracts.Datasets;

namespace FeedbackLoop.Orchestration.Registry;

/// <summary>How registry values are written as column text, and read back: the one place for each format.</summary>
internal static class RegistryText
{
    private static readonly JsonSerializerOptions SnapshotOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>A run's snapshot column: its files and, for readers of older builds, their total.</summary>
    public static string Snapshot(DatasetSnapshot snapshot) =>
        JsonSerializer.Serialize(new StoredSnapshot(snapshot.Files, snapshot.TotalPairs) { SnapshotId = snapshot.SnapshotId }, SnapshotOptions);

    /// <summary>A run's snapshot column as the snapshot of <paramref name="appId"/> (the total follows from the files).</summary>
    public static DatasetSnapshot ParseSnapshot(string appId, string json)
    {
        var stored = JsonSerializer.Deserialize<StoredSnapshot>(json, SnapshotOptions) ?? throw new InvalidDataException("a run's snapshot is JSON null");
        return new DatasetSnapshot(appId, stored.Files) { SnapshotId = stored.SnapshotId };
    }

    /// <summary>A model's snapshot column: the files it was trained on.</summary>
    public static string SnapshotFiles(DatasetSnapshot snapshot) => JsonSerializer.Serialize(snapshot.Files, SnapshotOptions);

    /// <summary>The run's snapshot column; <c>snapshot_id</c> is absent in rows older builds wrote.</summary>
    private sealed record StoredSnapshot(IReadOnlyList<SnapshotFile> Files, long TotalPairs)
    {
        public string? SnapshotId { get; init; }
    }

    public static string Status(RunStatus status) => status switch
    {
        RunStatus.Running => "running",
        RunStatus.Completed => "completed",
        RunStatus.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "not a run status"),
    };

    public static RunStatus ParseRunStatus(string text) => text switch
    {
        "running" => RunStatus.Running,
        "completed" => RunStatus.Completed,
        "failed" => RunStatus.Failed,
        _ => throw new InvalidDataException($"run status '{text}' is unknown to this build"),
    };

    public static string Status(ModelStatus status) => status switch
    {
        ModelStatus.Candidate => "candidate",
        ModelStatus.Promoted => "promoted",
        ModelStatus.Rejected => "rejected",
        ModelStatus.Retired => "retired",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "not a model status"),
    };

    public static ModelStatus ParseModelStatus(string text) => text switch
    {
        "candidate" => ModelStatus.Candidate,
        "promoted" => ModelStatus.Promoted,
        "rejected" => ModelStatus.Rejected,
        "retired" => ModelStatus.Retired,
        _ => throw new InvalidDataException($"model status '{text}' is unknown to this build"),
    };
}
