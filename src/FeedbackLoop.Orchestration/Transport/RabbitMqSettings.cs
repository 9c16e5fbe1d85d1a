using System.Globalization;

namespace FeedbackLoop.Orchestration.Transport;

/// <summary>
/// Where the loop's RabbitMQ broker is and how to log in. The password is never part of
/// <see cref="ToString"/>, so the settings can be logged and put in error messages as they are.
/// </summary>
public sealed record RabbitMqSettings
{
    /// <summary>RabbitMQ's AMQP port.</summary>
    public const int DefaultPort = 5672;

    /// <summary>The environment variable that holds the broker's URI (<c>amqp://user:password@host:port/vhost</c>).</summary>
    public const string UriVariable = "FEEDBACKLOOP_RABBITMQ";

    /// <summary>The environment variable that holds the password, so that it need not be part of the URI.</summary>
    public const string PasswordVariable = "FEEDBACKLOOP_RABBITMQ_PASSWORD";

    /// <summary>How long starting the bus waits for the broker before it fails.</summary>
    public static readonly TimeSpan DefaultStartTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Settings of a broker; RabbitMQ's own defaults for everything but the host.</summary>
    /// <exception cref="ArgumentException">The host, virtual host or user is empty, or the port is not a TCP port.</exception>
    public RabbitMqSettings(string host, int port = DefaultPort, string virtualHost = "/", string user = "guest", string password = "guest")
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentException.ThrowIfNullOrEmpty(virtualHost);
        ArgumentException.ThrowIfNullOrEmpty(user);
        ArgumentNullException.ThrowIfNull(password);
        if (port is < 1 or > 65535) throw new ArgumentOutOfRangeException(nameof(port), port, "a TCP port is between 1 and 65535");
        Host = host;
        Port = port;
        VirtualHost = virtualHost;
        User = user;
        Password = password;
    }

    /// <summary>The broker's host name or address.</summary>
    public string Host { get; }

    /// <summary>The broker's AMQP port.</summary>
    public int Port { get; }

    /// <summary>The virtual host the loop's queues live in.</summary>
    public string VirtualHost { get; }

    /// <summary>The user the loop logs in as.</summary>
    public string User { get; }

    /// <summary>The user's password (never logged).</summary>
    public string Password { get; }

    /// <summary>How long starting the bus waits for the broker before it fails with a message saying what to check.</summary>
    public TimeSpan StartTimeout
    {
        get;
        init => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(StartTimeout), value, "the start timeout must be positive");
    } = DefaultStartTimeout;

    /// <summary>
    /// Reads <c>amqp://user:password@host:port/vhost</c> (or the same with <c>rabbitmq://</c>): the path is the
    /// virtual host (URL-encoded, so <c>/%2F</c> is <c>/</c>; none means <c>/</c>), missing parts take RabbitMQ's defaults.
    /// </summary>
    /// <exception cref="FormatException">The text is not such a URI.</exception>
    public static RabbitMqSettings Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!Uri.TryCreate(uri.Trim(), UriKind.Absolute, out var parsed))
            throw new FormatException($"'{Redacted(uri)}' is not a RabbitMQ URI; expected amqp://user:password@host:port/vhost");
        if (parsed.Scheme is not ("amqp" or "rabbitmq"))
            throw new FormatException($"RabbitMQ URI scheme '{parsed.Scheme}' is not supported; use amqp:// or rabbitmq:// (TLS is not configured)");
        if (parsed.Query.Length > 0 || parsed.Fragment.Length > 0)
            throw new FormatException($"RabbitMQ URI '{Redacted(uri)}' has query or fragment parts, which are not supported");
        if (string.IsNullOrEmpty(parsed.Host))
            throw new FormatException($"RabbitMQ URI '{Redacted(uri)}' names no host");

        var path = parsed.AbsolutePath.TrimStart('/');
        if (path.Contains('/', StringComparison.Ordinal))
            throw new FormatException($"RabbitMQ URI '{Redacted(uri)}' has more than one path segment; the path is the virtual host (write '/' as %2F)");
        var virtualHost = path.Length == 0 ? "/" : Uri.UnescapeDataString(path);

        string user = "guest", password = "guest";
        if (parsed.UserInfo.Length > 0)
        {
            var colon = parsed.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? parsed.UserInfo : parsed.UserInfo[..colon]);
            if (colon >= 0) password = Uri.UnescapeDataString(parsed.UserInfo[(colon + 1)..]);
        }

        var host = parsed.HostNameType == UriHostNameType.IPv6 ? parsed.DnsSafeHost : parsed.Host;
        return new RabbitMqSettings(host, parsed.IsDefaultPort || parsed.Port < 0 ? DefaultPort : parsed.Port, virtualHost, user, password);
    }

    /// <summary>
    /// The settings in <see cref="UriVariable"/> (with the password from <see cref="PasswordVariable"/> when that is
    /// set), or null when the URI variable is unset or empty: then the loop runs in memory.
    /// </summary>
    /// <exception cref="FormatException">The variable is set but is not a RabbitMQ URI.</exception>
    public static RabbitMqSettings? FromEnvironment()
    {
        var uri = Environment.GetEnvironmentVariable(UriVariable);
        if (string.IsNullOrWhiteSpace(uri)) return null;
        var settings = Parse(uri);
        var password = Environment.GetEnvironmentVariable(PasswordVariable);
        return string.IsNullOrEmpty(password) ? settings : new RabbitMqSettings(settings.Host, settings.Port, settings.VirtualHost, settings.User, password);
    }

    /// <summary>Where the broker is and who logs in, without the password: <c>amqp://user@host:port/vhost</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"amqp://{Uri.EscapeDataString(User)}@{HostForUri}:{Port}/{Uri.EscapeDataString(VirtualHost)}");

    /// <summary>The <c>host:port</c> the broker must be listening on.</summary>
    internal string Endpoint => string.Create(CultureInfo.InvariantCulture, $"{HostForUri}:{Port}");

    private string HostForUri => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;

    // Error messages may quote what they were given, but never a password inside it (which may itself hold
    // an unescaped '@' or ':', so the login ends at the authority's last '@').
    private static string Redacted(string uri)
    {
        var scheme = uri.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return uri;
        var authorityStart = scheme + 3;
        var authorityEnd = uri.IndexOf('/', authorityStart);
        var authority = authorityEnd < 0 ? uri[authorityStart..] : uri[authorityStart..authorityEnd];
        var at = authority.LastIndexOf('@');
        var colon = at < 0 ? -1 : authority.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0 || colon > at) return uri;
        return string.Concat(uri.AsSpan(0, authorityStart + colon), ":***", uri.AsSpan(authorityStart + at));
    }
}
