using System.Net;
using System.Text;

namespace FeedbackLoop.Sdk.Transports;

/// <summary>Settings of an <see cref="HttpFeedbackTransport"/>.</summary>
public sealed record HttpTransportOptions
{
    /// <summary>Default for <see cref="RequestTimeout"/>: 10 seconds.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The longest <see cref="RequestTimeout"/> accepted: one day.</summary>
    public static readonly TimeSpan MaxRequestTimeout = TimeSpan.FromDays(1);

    /// <summary>The path a collector takes batches on (<c>feedbackloop serve --role collector</c>), used when <see cref="Endpoint"/> has none.</summary>
    public const string DefaultPath = "/v1/batch";

    /// <summary>
    /// The collector's URL (absolute, <c>https</c>, without user info): its base (<c>https://collector.example.com</c>,
    /// posted to <see cref="DefaultPath"/>) or the full batch URL. Plain <c>http</c> is accepted only to
    /// a loopback host (<c>localhost</c>, 127.0.0.0/8, <c>::1</c>: a collector on the same machine) unless
    /// <see cref="AllowInsecureHttp"/> is set: the write key travels in a header.
    /// </summary>
    public required Uri Endpoint { get; init; }

    /// <summary>
    /// The app's write key, sent as <c>Authorization: Bearer &lt;key&gt;</c>. It is never logged, never
    /// put in an exception message, and left out of <see cref="ToString"/>.
    /// </summary>
    public required string WriteKey { get; init; }

    /// <summary>How long one request may take, from sending to the response headers; then it counts as a transient fault.</summary>
    public TimeSpan RequestTimeout { get; init; } = DefaultRequestTimeout;

    /// <summary>Whether request bodies are gzip-compressed (<c>Content-Encoding: gzip</c>).</summary>
    public bool Compress { get; init; } = true;

    /// <summary>
    /// Lets an <c>http://</c> endpoint on another machine through, so that the write key and the events cross the
    /// network unencrypted (default off: such an endpoint is refused when the transport is created). Only for a
    /// network you trust end to end; the transport logs a warning when it is created this way.
    /// </summary>
    public bool AllowInsecureHttp { get; init; }

    /// <summary>Where batches are posted: <see cref="Endpoint"/>, or <see cref="DefaultPath"/> on it when it has no path.</summary>
    internal Uri BatchUrl => Endpoint.AbsolutePath == "/" ? new Uri(Endpoint, DefaultPath) : Endpoint;

    /// <summary>Whether requests to <paramref name="endpoint"/> would carry the key unencrypted off this machine.</summary>
    internal static bool LeavesMachineInClear(Uri endpoint) =>
        endpoint.Scheme == Uri.UriSchemeHttp && !IsLoopback(endpoint);

    private static bool IsLoopback(Uri endpoint) =>
        endpoint.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6
            ? IPAddress.TryParse(endpoint.IdnHost, out var address) && IPAddress.IsLoopback(address)
            : string.Equals(endpoint.IdnHost, "localhost", StringComparison.OrdinalIgnoreCase);

    internal void Validate()
    {
        if (Endpoint is null || !Endpoint.IsAbsoluteUri || (Endpoint.Scheme != Uri.UriSchemeHttp && Endpoint.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException("Endpoint must be an absolute http or https URL.", nameof(Endpoint));
        if (!string.IsNullOrEmpty(Endpoint.UserInfo))
            throw new ArgumentException("Endpoint must not carry user info; the write key goes in WriteKey.", nameof(Endpoint));
        if (LeavesMachineInClear(Endpoint) && !AllowInsecureHttp)
        {
            throw new ArgumentException(
                "Endpoint is http:// to a host that is not loopback, so the write key would cross the network unencrypted: use https://, "
                + "or set AllowInsecureHttp for a network you trust end to end.", nameof(Endpoint));
        }

        // Visible ASCII only: anything else cannot travel in a header, and HttpClient's own complaint would quote the value.
        if (string.IsNullOrEmpty(WriteKey) || !WriteKey.All(c => c is > ' ' and <= '~'))
            throw new ArgumentException("WriteKey must be non-empty visible ASCII without spaces.", nameof(WriteKey));
        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > MaxRequestTimeout)
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "must be positive and at most one day");
    }

    // Replaces the generated member list so that the key never reaches a log through ToString.
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append("Endpoint = ").Append(Endpoint)
            .Append(", WriteKey = ***")
            .Append(", RequestTimeout = ").Append(RequestTimeout)
            .Append(", Compress = ").Append(Compress)
            .Append(", AllowInsecureHttp = ").Append(AllowInsecureHttp);
        return true;
    }
}
