using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FeedbackLoop.Orchestration.Transport;

/// <summary>
/// Where the loop's RabbitMQ broker is and how to log in. The password is never part of
/// <see cref="ToString"/>, so the settings can be logged and put in error messages as they are.
/// </summary>
public sealed record RabbitMqSettings
{
    /// <summary>RabbitMQ's AMQP port.</summary>
    public const int DefaultPort = 5672;

    /// <summary>RabbitMQ's AMQP-over-TLS port (<c>amqps://</c>).</summary>
    public const int DefaultTlsPort = 5671;

    /// <summary>The environment variable that holds the broker's URI (<c>amqp://user:password@host:port/vhost</c>).</summary>
    public const string UriVariable = "FEEDBACKLOOP_RABBITMQ";

    /// <summary>The environment variable that holds the password, so that it need not be part of the URI.</summary>
    public const string PasswordVariable = "FEEDBACKLOOP_RABBITMQ_PASSWORD";

    /// <summary>
    /// The environment variable that names a PEM file of the certificate authorities that sign the broker's TLS
    /// certificate (a private CA); unset, the system's trusted roots decide.
    /// </summary>
    public const string CaFileVariable = "FEEDBACKLOOP_RABBITMQ_CA_FILE";

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

    /// <summary>
    /// Whether the connection is TLS (<c>amqps://</c>). The broker's certificate is always validated: it must chain to
    /// a trusted root (<see cref="CaFile"/>'s, when set) and name <see cref="Host"/>. There is no switch to skip that.
    /// </summary>
    public bool UseTls { get; init; }

    /// <summary>
    /// A PEM file of the certificate authorities the broker's certificate must chain to (a private CA), instead of
    /// the system's trusted roots; only with <see cref="UseTls"/>. Revocation is not checked against a private CA
    /// (such CAs rarely publish revocation lists).
    /// </summary>
    public string? CaFile
    {
        get;
        init => field = value is null || value.Length > 0 ? value : throw new ArgumentException("the CA file must be a path or null", nameof(CaFile));
    }

    /// <summary>How long starting the bus waits for the broker before it fails with a message saying what to check.</summary>
    public TimeSpan StartTimeout
    {
        get;
        init => field = value > TimeSpan.Zero ? value : throw new ArgumentOutOfRangeException(nameof(StartTimeout), value, "the start timeout must be positive");
    } = DefaultStartTimeout;

    /// <summary>
    /// Reads <c>amqp://user:password@host:port/vhost</c> (or the same with <c>rabbitmq://</c>, or <c>amqps://</c> for
    /// TLS): the path is the virtual host (URL-encoded, so <c>/%2F</c> is <c>/</c>; none means <c>/</c>), missing parts
    /// take RabbitMQ's defaults (port 5672, or 5671 with TLS).
    /// </summary>
    /// <exception cref="FormatException">
    /// The text is not such a URI. The message names the part that is wrong and never quotes the text: it may hold a
    /// password (one with an unescaped '/' or '@' is not even split where it should be).
    /// </exception>
    public static RabbitMqSettings Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!Uri.TryCreate(uri.Trim(), UriKind.Absolute, out var parsed))
        {
            throw new FormatException("not a RabbitMQ URI; expected amqp://user:password@host:port/vhost (percent-encode '/', '@', ':' and '%' "
                + $"in the user and password, or put the password in {PasswordVariable})");
        }

        var tls = parsed.Scheme switch
        {
            "amqp" or "rabbitmq" => false,
            "amqps" => true,
            _ => throw new FormatException("the URI's scheme is not supported; use amqp://, rabbitmq:// or amqps:// (TLS)"),
        };
        if (parsed.Query.Length > 0 || parsed.Fragment.Length > 0)
            throw new FormatException("the URI has a query or fragment part, which is not supported");
        if (string.IsNullOrEmpty(parsed.Host))
            throw new FormatException("the URI names no host");

        var path = parsed.AbsolutePath.TrimStart('/');
        if (path.Contains('/', StringComparison.Ordinal))
            throw new FormatException("the URI's path has more than one segment; the path is the virtual host (write '/' as %2F)");
        var virtualHost = path.Length == 0 ? "/" : Uri.UnescapeDataString(path);

        string user = "guest", password = "guest";
        if (parsed.UserInfo.Length > 0)
        {
            var colon = parsed.UserInfo.IndexOf(':', StringComparison.Ordinal);
            user = Uri.UnescapeDataString(colon < 0 ? parsed.UserInfo : parsed.UserInfo[..colon]);
            if (colon >= 0) password = Uri.UnescapeDataString(parsed.UserInfo[(colon + 1)..]);
        }

        if (user.Length == 0)
            throw new FormatException("the URI's user is empty");
        var host = parsed.HostNameType == UriHostNameType.IPv6 ? parsed.DnsSafeHost : parsed.Host;
        var port = parsed.IsDefaultPort || parsed.Port < 0 ? (tls ? DefaultTlsPort : DefaultPort) : parsed.Port;
        return new RabbitMqSettings(host, port, virtualHost, user, password) { UseTls = tls };
    }

    /// <summary>
    /// The settings in <see cref="UriVariable"/> (with the password from <see cref="PasswordVariable"/> when that is
    /// set, and the CA file from <see cref="CaFileVariable"/>), or null when the URI variable is unset or empty: then
    /// the loop runs in memory.
    /// </summary>
    /// <exception cref="FormatException">The variable is set but is not a RabbitMQ URI, or the CA file is unusable.</exception>
    public static RabbitMqSettings? FromEnvironment()
    {
        var uri = Environment.GetEnvironmentVariable(UriVariable);
        if (string.IsNullOrWhiteSpace(uri)) return null;
        RabbitMqSettings settings;
        try
        {
            settings = Parse(uri);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{UriVariable}: {e.Message}", e);
        }

        var password = Environment.GetEnvironmentVariable(PasswordVariable);
        if (!string.IsNullOrEmpty(password))
            settings = settings.WithPassword(password);
        if (Environment.GetEnvironmentVariable(CaFileVariable) is { Length: > 0 } caFile)
        {
            if (!settings.UseTls)
                throw new FormatException($"{CaFileVariable} is set but the URI is not amqps://: a CA file is only used with TLS");
            settings = settings with { CaFile = caFile };
            _ = settings.TrustedAuthorities(); // a missing or broken file is a configuration error now, not a failed connection later
        }

        return settings;
    }

    /// <summary>The same settings with another password.</summary>
    public RabbitMqSettings WithPassword(string password) =>
        new(Host, Port, VirtualHost, User, password) { UseTls = UseTls, CaFile = CaFile, StartTimeout = StartTimeout };

    /// <summary>The certificates in <see cref="CaFile"/>, or null when none is set (the system's roots decide).</summary>
    /// <exception cref="FormatException">The file cannot be read or holds no PEM certificate.</exception>
    public X509Certificate2Collection? TrustedAuthorities()
    {
        if (CaFile is null) return null;
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(CaFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new FormatException($"{CaFileVariable}: cannot read the CA file {CaFile}: {e.Message}", e);
        }

        return authorities.Count > 0
            ? authorities
            : throw new FormatException($"{CaFileVariable}: the CA file {CaFile} holds no PEM certificate");
    }

    /// <summary>Where the broker is and who logs in, without the password: <c>amqp://user@host:port/vhost</c> (<c>amqps://</c> with TLS).</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{(UseTls ? "amqps" : "amqp")}://{Uri.EscapeDataString(User)}@{HostForUri}:{Port}/{Uri.EscapeDataString(VirtualHost)}");

    /// <summary>The <c>host:port</c> the broker must be listening on.</summary>
    internal string Endpoint => string.Create(CultureInfo.InvariantCulture, $"{HostForUri}:{Port}");

    private string HostForUri => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
}
