using System.Collections;

namespace FeedbackLoop.Orchestration.Worker;

/// <summary>
/// Which of the worker's own environment variables a job's programs see. A trainer is a program named in a pipelines
/// file, and whatever it prints lands in a log that <c>jobs logs</c> shows; the worker's environment holds the bus
/// password (<c>FEEDBACKLOOP_RABBITMQ_PASSWORD</c>) and whatever else its host was given. So nothing is inherited by
/// default: a child gets the names on <see cref="DefaultNames"/> (what a trainer needs to find its programs, libraries,
/// GPUs and caches), the names its operator adds with <c>serve --pass-env</c>, and the variables the worker sets for
/// the job itself (<c>CUDA_VISIBLE_DEVICES</c>, <c>FEEDBACKLOOP_JOB_ID</c>, …).
/// </summary>
/// <remarks>
/// A name is exact (<c>HF_TOKEN</c>) or a prefix ending in <c>*</c> (<c>NCCL_*</c>). Names of the loop's own
/// family (<c>FEEDBACKLOOP_*</c>, and <c>FeedbackLoop__*</c>, how the host's configuration is set from the
/// environment) never cross, whatever a pattern says: they are where the bus and store secrets live.
/// </remarks>
public sealed class ChildEnvironment
{
    /// <summary>
    /// Passed to every job without being asked: the search paths, the locale, the temp folder, the NVIDIA/CUDA/NCCL
    /// settings a GPU node is set up with, and the Hugging Face and PyTorch cache and offline switches. Not
    /// <c>HF_TOKEN</c>: a credential crosses only when its operator names it (<c>--pass-env HF_TOKEN</c>).
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultNames =
    [
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR",
        "LD_LIBRARY_PATH", "CUDA_*", "NVIDIA_*", "NCCL_*", "OMP_NUM_THREADS",
        "VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH",
        "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_CACHE", "HF_DATASETS_OFFLINE",
        "TRANSFORMERS_CACHE", "TRANSFORMERS_OFFLINE", "TORCH_HOME", "XDG_CACHE_HOME",
    ];

    /// <summary>The loop's own names: never passed on (see the class remarks). Compared ignoring case.</summary>
    public const string ReservedPrefix = "FEEDBACKLOOP";

    private readonly string[] _exact;
    private readonly string[] _prefixes;

    /// <summary>The default names plus <paramref name="extraNames"/>.</summary>
    /// <exception cref="ArgumentException">A name is not a variable name or <c>PREFIX*</c>, or is one of the loop's own.</exception>
    public ChildEnvironment(IEnumerable<string>? extraNames = null)
    {
        var extra = (extraNames ?? []).ToList();
        foreach (var name in extra)
        {
            if (Refusal(name) is { } reason)
            {
                throw new ArgumentException($"--pass-env: {reason}");
            }
        }

        var names = DefaultNames.Concat(extra).Distinct(StringComparer.Ordinal).ToList();
        ExtraNames = extra;
        _exact = [.. names.Where(n => !n.EndsWith('*'))];
        _prefixes = [.. names.Where(n => n.EndsWith('*')).Select(n => n[..^1])];
    }

    /// <summary>The defaults alone.</summary>
    public static ChildEnvironment Default { get; } = new();

    /// <summary>What the operator added to <see cref="DefaultNames"/>.</summary>
    public IReadOnlyList<string> ExtraNames { get; }

    /// <summary>Whether a variable of this name crosses to a job's programs.</summary>
    public bool Passes(string name) =>
        !name.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase)
        && (_exact.Contains(name, StringComparer.Ordinal) || _prefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)));

    /// <summary>The variables of <paramref name="environment"/> (the worker's, from <see cref="Environment.GetEnvironmentVariables()"/>) that cross.</summary>
    public Dictionary<string, string> From(IDictionary environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var passed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is string name && entry.Value is string value && Passes(name))
            {
                passed[name] = value;
            }
        }

        return passed;
    }

    /// <summary>Why <paramref name="name"/> cannot be added, or null when it can. The reason quotes the name: a name is not a secret.</summary>
    public static string? Refusal(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "an empty name";
        }

        var stem = name.EndsWith('*') ? name[..^1] : name;
        if (stem.Length == 0)
        {
            return "'*' would pass everything; name the variables (or a prefix such as HF_*)";
        }

        if (!stem.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') || char.IsAsciiDigit(stem[0]))
        {
            return $"'{name}' is not a variable name (letters, digits and '_', not starting with a digit) or a prefix ending in '*'";
        }

        // A prefix of the reserved family (FEED*) would reach it as surely as the family itself.
        return stem.StartsWith(ReservedPrefix, StringComparison.OrdinalIgnoreCase) || ReservedPrefix.StartsWith(stem, StringComparison.OrdinalIgnoreCase)
            ? $"'{name}' is one of the loop's own variables (FEEDBACKLOOP_*, FeedbackLoop__*), which hold the bus and store secrets and never reach a job"
            : null;
    }
}
