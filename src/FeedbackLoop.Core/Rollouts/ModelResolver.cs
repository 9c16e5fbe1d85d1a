using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace FeedbackLoop.Core.Rollouts;

/// <summary>A model an app can serve: its version and where its artifact lies.</summary>
/// <param name="Version">The model version.</param>
/// <param name="Artifact">Where the trained model lies (or the model id the app passes to its provider).</param>
public sealed record ServedModel(string Version, string Artifact);

/// <summary>An app's open rollout as serving sees it: the canary and the share of sessions it serves.</summary>
/// <param name="RolloutId">The rollout.</param>
/// <param name="Canary">The model on trial.</param>
/// <param name="Percent">The share of sessions the canary serves, 0–100 (0 while a person has halted the rollout).</param>
public sealed record CanarySplit(string RolloutId, ServedModel Canary, int Percent);

/// <summary>What an app serves now: its stable model (none before its first promotion) and an open rollout, if any.</summary>
/// <param name="AppId">The app.</param>
/// <param name="Stable">The model every session outside the canary gets.</param>
/// <param name="Rollout">The open rollout, or null.</param>
public sealed record AppServing(string AppId, ServedModel? Stable, CanarySplit? Rollout);

/// <summary>Which arm of a rollout a session is in.</summary>
public enum ServingVariant
{
    /// <summary>The stable model (every session when no rollout is open).</summary>
    Stable,

    /// <summary>The canary of an open rollout.</summary>
    Canary,
}

/// <summary>The model one session gets.</summary>
/// <param name="Version">The model version.</param>
/// <param name="Artifact">Its artifact.</param>
/// <param name="Variant">Stable or canary.</param>
/// <param name="RolloutId">The open rollout the session was assigned in; null when none is open.</param>
public sealed record ModelAssignment(string Version, string Artifact, ServingVariant Variant, string? RolloutId)
{
    /// <summary>The variant as the wire and the events spell it: <c>stable</c> or <c>canary</c>.</summary>
    public string VariantText => Variant == ServingVariant.Canary ? "canary" : "stable";
}

/// <summary>
/// Which model a session gets (issue 14, item 1), pure: the same answer in the collector, in embedded mode and in tests.
/// A session is in the canary when its bucket — a stable hash of the rollout id and the session id, 0–9,999 — is below
/// the canary's share; so a session keeps its arm for the whole rollout, across processes and restarts, and each
/// rollout draws its own canary sessions (the same users are not the guinea pigs of every rollout).
/// </summary>
public static class ModelResolver
{
    /// <summary>Buckets per rollout: a share is honoured to a hundredth of a percent.</summary>
    public const int Buckets = 10_000;

    /// <summary>The session's model, or null when the app has no model yet.</summary>
    public static ModelAssignment? Resolve(AppServing serving, string sessionId)
    {
        ArgumentNullException.ThrowIfNull(serving);
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        if (serving.Stable is not { } stable)
        {
            return null;
        }

        if (serving.Rollout is not { } rollout)
        {
            return new ModelAssignment(stable.Version, stable.Artifact, ServingVariant.Stable, null);
        }

        return Bucket(rollout.RolloutId, sessionId) < rollout.Percent * (Buckets / 100)
            ? new ModelAssignment(rollout.Canary.Version, rollout.Canary.Artifact, ServingVariant.Canary, rollout.RolloutId)
            : new ModelAssignment(stable.Version, stable.Artifact, ServingVariant.Stable, rollout.RolloutId);
    }

    /// <summary>
    /// The session's bucket in a rollout, 0 to <see cref="Buckets"/> − 1: the first 8 bytes of SHA-256 over the UTF-8 of
    /// rollout id, a zero byte and session id, modulo <see cref="Buckets"/>. Not <c>string.GetHashCode</c>, which differs
    /// between processes; SHA-256 is in every runtime, so another SDK can compute the same bucket.
    /// </summary>
    public static int Bucket(string rolloutId, string sessionId)
    {
        var text = Encoding.UTF8.GetBytes($"{rolloutId}\0{sessionId}");
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(text, hash);
        return (int)(BinaryPrimitives.ReadUInt64BigEndian(hash) % Buckets);
    }
}

/// <summary>
/// Where an app's serving state comes from: the store in the collector and in embedded mode (the store is the truth; see
/// docs/adr/0024-which-model-to-serve.md).
/// </summary>
public interface IServingState
{
    /// <summary>What <paramref name="appId"/> serves now.</summary>
    AppServing Serving(string appId);
}
