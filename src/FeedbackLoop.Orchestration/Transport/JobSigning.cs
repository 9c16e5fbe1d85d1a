using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FeedbackLoop.Contracts.Bus;

namespace FeedbackLoop.Orchestration.Transport;

/// <summary>
/// The secret orchestrator and workers share to sign job offers (docs/adr/0031-signed-job-offers.md). On RabbitMQ it is
/// required: whoever can publish to the virtual host could otherwise make every worker run any program. In one process
/// (embedded mode) a random key is made for the process, since nobody else can reach its in-memory bus.
/// </summary>
public sealed class JobKey
{
    /// <summary>The key itself, as text (at least <see cref="MinLength"/> characters).</summary>
    public const string Variable = "FEEDBACKLOOP_JOB_KEY";

    /// <summary>A file that holds the key (its first line), e.g. a mounted secret; the alternative to <see cref="Variable"/>.</summary>
    public const string FileVariable = "FEEDBACKLOOP_JOB_KEY_FILE";

    /// <summary>The shortest key accepted: 32 characters, e.g. the 64 hex digits of <c>openssl rand -hex 32</c>.</summary>
    public const int MinLength = 32;

    private JobKey(byte[] secret) => Secret = secret;

    internal byte[] Secret { get; }

    /// <summary>A random key for this process alone (embedded mode).</summary>
    public static JobKey Generate() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>The key from its text.</summary>
    /// <exception cref="ArgumentException">Shorter than <see cref="MinLength"/> characters.</exception>
    public static JobKey FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var key = text.Trim();
        return key.Length >= MinLength
            ? new JobKey(Encoding.UTF8.GetBytes(key))
            : throw new ArgumentException(
                $"the job signing key is {key.Length} characters; it needs at least {MinLength} (make one with: openssl rand -hex 32)");
    }

    /// <summary>
    /// The key from <see cref="Variable"/> or the file <see cref="FileVariable"/> names; when neither is set, a random one
    /// unless <paramref name="required"/>. The messages name the variables, never the key.
    /// </summary>
    /// <exception cref="ArgumentException">Both are set, neither is set but a key is required, the key is too short, or the file cannot be read.</exception>
    public static JobKey FromEnvironment(bool required, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var text = environment(Variable);
        var file = environment(FileVariable);
        if (!string.IsNullOrEmpty(text) && !string.IsNullOrEmpty(file))
        {
            throw new ArgumentException($"both {Variable} and {FileVariable} are set: set one of them.");
        }

        if (!string.IsNullOrEmpty(file))
        {
            try
            {
                text = File.ReadLines(file).FirstOrDefault() ?? "";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"{FileVariable}: the key file could not be read ({e.GetType().Name}); check the path and its permissions.", e);
            }
        }

        if (string.IsNullOrEmpty(text))
        {
            return required
                ? throw new ArgumentException(
                    $"on RabbitMQ the orchestrator and the workers sign and check job offers with a shared key: set {Variable} (at least {MinLength} characters, "
                    + $"e.g. from openssl rand -hex 32) or {FileVariable}, to the same key on every orchestrator and worker.")
                : Generate();
        }

        return FromText(text);
    }
}

/// <summary>
/// Signs job offers and checks their signatures: HMAC-SHA256 over the offer's canonical content (job id, attempt and
/// the whole spec as JSON with its object keys sorted), compared in constant time. The orchestrator signs each offer it
/// sends; a worker runs nothing whose signature is missing or does not match.
/// </summary>
public sealed class JobSigner(JobKey key)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The offer with its <see cref="JobOffered.Signature"/>.</summary>
    public JobOffered Sign(JobOffered offer)
    {
        ArgumentNullException.ThrowIfNull(offer);
        return offer with { Signature = Convert.ToHexStringLower(Mac(offer)) };
    }

    /// <summary>True when the offer carries the signature of exactly this content under this key.</summary>
    public bool Verify(JobOffered offer)
    {
        ArgumentNullException.ThrowIfNull(offer);
        if (offer.Signature is not { Length: 64 } hex)
        {
            return false;
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(given, Mac(offer));
    }

    /// <summary>
    /// The bytes that are signed. Sorted keys make them independent of property and dictionary order, which a trip through
    /// the broker and the store need not keep; a field this build does not know is not in them, so an offer from a newer
    /// orchestrator that relies on one fails the check instead of running without it.
    /// </summary>
    public static byte[] CanonicalContent(JobOffered offer)
    {
        ArgumentNullException.ThrowIfNull(offer);
        var node = new JsonObject
        {
            ["job_id"] = offer.JobId,
            ["attempt"] = offer.Attempt,
            ["spec"] = JsonSerializer.SerializeToNode(offer.Spec, Json),
        };
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteSorted(writer, node);
        }

        return buffer.ToArray();
    }

    private byte[] Mac(JobOffered offer) => HMACSHA256.HashData(key.Secret, CanonicalContent(offer));

    private static void WriteSorted(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (name, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(name);
                    WriteSorted(writer, value);
                }

                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    WriteSorted(writer, item);
                }

                writer.WriteEndArray();
                break;
            case null:
                writer.WriteNullValue();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }
}
