using System.Text.Json;

namespace FeedbackLoop.Orchestration.Registry;

/// <summary>How registry values are written as column text, and read back: the one place for each format.</summary>
internal static class RegistryText
{
    private static readonly JsonSerializerOptions SnapshotOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string Snapshot(RunSnapshot snapshot) => JsonSerializer.Serialize(snapshot, SnapshotOptions);

    public static RunSnapshot ParseSnapshot(string json) =>
        JsonSerializer.Deserialize<RunSnapshot>(json, SnapshotOptions) ?? throw new InvalidDataException("a run's snapshot is JSON null");

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
