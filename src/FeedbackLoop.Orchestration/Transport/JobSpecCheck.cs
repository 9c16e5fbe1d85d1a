using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Bus;

namespace FeedbackLoop.Orchestration.Transport;

/// <summary>
/// What a worker checks in an offer before it claims it, signature aside: the names that come from data (app id, run,
/// job, versions) become folder names and trainer arguments, so each must be a safe name — letters, digits, '.', '_'
/// and '-', starting with a letter or digit, so never an option like <c>--evil</c>, never <c>..</c> and never a path —
/// and the paths the job writes or reads must be absolute and free of <c>..</c>, its output the candidate's own folder.
/// </summary>
public static class JobSpecCheck
{
    /// <summary>The longest run id, job id or version: an app id plus the suffixes the orchestrator adds.</summary>
    public const int MaxNameLength = 160;

    /// <summary>Why the offer must not run (fixed words and field names, never the values), or null when it may.</summary>
    public static string? Problem(JobOffered offer)
    {
        ArgumentNullException.ThrowIfNull(offer);
        var spec = offer.Spec;
        if (spec is null) return "the offer has no spec";
        if (offer.Attempt < 1) return "the attempt number is below 1";
        if (spec.Kind is not (JobKinds.Tune or JobKinds.Eval)) return "unknown job kind";
        if (spec.Runner is not (JobRunners.Command or JobRunners.MlNetReward)) return "unknown runner";
        if (!JobPools.IsValid(spec.Pool)) return "the pool is not a valid pool name";
        if (!AppIds.IsValid(spec.AppId)) return "the app id is not a valid app id";
        foreach (var (field, value) in new[] { ("job id", offer.JobId), ("run id", spec.RunId), ("candidate version", spec.CandidateVersion) })
        {
            if (!IsSafeName(value)) return $"the {field} is not a safe name";
        }

        if (spec.IncumbentVersion is { } incumbent && !IsSafeName(incumbent)) return "the incumbent version is not a safe name";
        if (!IsCleanAbsolute(spec.OutputRoot) || Path.GetFileName(spec.OutputRoot) != spec.CandidateVersion)
        {
            return "the output folder is not the candidate version's own absolute folder";
        }

        if (spec.CandidateArtifact is { } candidate && !IsCleanAbsolute(candidate)) return "the candidate's folder is not a clean absolute path";
        if (spec.IncumbentArtifact is { } artifact && !IsCleanAbsolute(artifact)) return "the incumbent's folder is not a clean absolute path";
        if (spec.Files is null || spec.Files.Any(f => f is null || !IsCleanAbsolute(f.Path))) return "a snapshot file is not a clean absolute path";
        if (!(spec.TimeoutSeconds > 0)) return "the time limit is not above 0";
        if (spec.Command is null || spec.ExtraCommands is null || spec.Variables is null) return "the command, checks or variables are missing";
        if (spec.Runner == JobRunners.Command && spec.Command.Count == 0) return "a command job without a command";
        return null;
    }

    /// <summary>A name that is safe as one folder name and one argument: <see cref="AppIds"/>' characters, up to <see cref="MaxNameLength"/>.</summary>
    public static bool IsSafeName(string? name)
    {
        if (name is not { Length: >= 1 and <= MaxNameLength } || !IsLetterOrDigit(name[0])) return false;
        foreach (var c in name)
        {
            if (!(IsLetterOrDigit(c) || c is '.' or '_' or '-')) return false;
        }

        return true;
    }

    private static bool IsCleanAbsolute(string? path) =>
        path is { Length: > 0 } && Path.IsPathFullyQualified(path) && !path.Contains('\0', StringComparison.Ordinal)
        && !path.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Any(segment => segment is ".." or ".");

    private static bool IsLetterOrDigit(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');
}
