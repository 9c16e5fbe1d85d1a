namespace FeedbackLoop.Sdk.DependencyInjection;

/// <summary>
/// The <c>FeedbackLoop</c> configuration section, as <c>services.AddFeedbackLoop(configuration)</c> binds it
/// (appsettings.json, environment variables such as <c>FeedbackLoop__AppId</c>, ...). Defaults are those of
/// <see cref="FeedbackClientOptions"/>; docs/SDK.md lists every key.
/// </summary>
public sealed class FeedbackLoopOptions
{
    /// <summary>The configuration section bound by default.</summary>
    public const string SectionName = "FeedbackLoop";

    /// <summary>
    /// False turns the SDK off: <see cref="IFeedbackClient"/> resolves to <see cref="NullFeedbackClient"/>, no option is
    /// checked and nothing is sent (say, in a development environment). True by default.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The app (tenant) id: 1–64 chars of <c>[a-z0-9._-]</c>. Required.</summary>
    public string AppId { get; set; } = "";

    /// <summary>See <see cref="FeedbackClientOptions.MaxQueueLength"/>.</summary>
    public int MaxQueueLength { get; set; } = FeedbackClientOptions.DefaultMaxQueueLength;

    /// <summary>See <see cref="FeedbackClientOptions.MaxQueueBytes"/>.</summary>
    public long MaxQueueBytes { get; set; } = FeedbackClientOptions.DefaultMaxQueueBytes;

    /// <summary>See <see cref="FeedbackClientOptions.MaxBatchSize"/>.</summary>
    public int MaxBatchSize { get; set; } = FeedbackClientOptions.DefaultMaxBatchSize;

    /// <summary>See <see cref="FeedbackClientOptions.FlushInterval"/>.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>See <see cref="FeedbackClientOptions.ShutdownTimeout"/>.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>See <see cref="FeedbackClientOptions.TruncateLargeInput"/>.</summary>
    public bool TruncateLargeInput { get; set; } = true;

    /// <summary>Retry of transient faults.</summary>
    public RetrySection Retry { get; set; } = new();

    /// <summary>The disk spool; on when <see cref="SpoolSection.Directory"/> is set.</summary>
    public SpoolSection Spool { get; set; } = new();

    /// <summary>The HTTP collector transport; used when <see cref="HttpSection.Endpoint"/> is set.</summary>
    public HttpSection Http { get; set; } = new();

    /// <summary>The Kafka transport's settings; used when <c>UseKafka()</c> (FeedbackLoop.Sdk.Kafka) chose it.</summary>
    public KafkaSection Kafka { get; set; } = new();

    /// <summary>Session sampling.</summary>
    public SamplingSection Sampling { get; set; } = new();

    /// <summary>Which built-in redactors run (all by default).</summary>
    public RedactionSection Redaction { get; set; } = new();

    /// <summary>
    /// When set (16+ characters, keep it secret), every <c>user_id</c> is replaced by its HMAC pseudonym
    /// (<see cref="Privacy.UserIdHasher"/>): configuring the secret is what turns pseudonyms on; there is no second switch.
    /// </summary>
    public string? UserIdSecret { get; set; }

    /// <summary>The <c>Retry</c> subsection.</summary>
    public sealed class RetrySection
    {
        /// <summary>False turns retries off.</summary>
        public bool Enabled { get; set; } = true;
        /// <summary>See <see cref="RetryOptions.InitialBackoff"/>.</summary>
        public TimeSpan InitialBackoff { get; set; } = new RetryOptions().InitialBackoff;
        /// <summary>See <see cref="RetryOptions.MaxBackoff"/>.</summary>
        public TimeSpan MaxBackoff { get; set; } = new RetryOptions().MaxBackoff;
        /// <summary>See <see cref="RetryOptions.TimeBudget"/>.</summary>
        public TimeSpan TimeBudget { get; set; } = new RetryOptions().TimeBudget;
    }

    /// <summary>The <c>Spool</c> subsection.</summary>
    public sealed class SpoolSection
    {
        /// <summary>The private spool folder; unset (default) keeps events in memory only.</summary>
        public string? Directory { get; set; }
        /// <summary>See <see cref="SpoolOptions.MaxBytes"/>.</summary>
        public long MaxBytes { get; set; } = SpoolOptions.DefaultMaxBytes;

        /// <summary>See <see cref="SpoolOptions.IntegrityKey"/>; unset keeps a generated key in the spool folder.</summary>
        public string? IntegrityKey { get; set; }
    }

    /// <summary>The <c>Http</c> subsection.</summary>
    public sealed class HttpSection
    {
        /// <summary>The collector's URL, e.g. <c>https://collector.example.com</c> (posted to <c>/v1/batch</c>) or the full batch URL.</summary>
        public Uri? Endpoint { get; set; }
        /// <summary>The app's write key (sent as a bearer token; never logged).</summary>
        public string? WriteKey { get; set; }
        /// <summary>How long one POST may take.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
        /// <summary>Gzip request bodies.</summary>
        public bool Compress { get; set; } = true;
        /// <summary>Accept an <c>http://</c> endpoint that is not loopback (the key crosses the network unencrypted); default off.</summary>
        public bool AllowInsecureHttp { get; set; }
    }

    /// <summary>The <c>Kafka</c> subsection.</summary>
    public sealed class KafkaSection
    {
        /// <summary>Kafka bootstrap servers, <c>host:port,...</c>; required with <c>UseKafka()</c> unless passed to it.</summary>
        public string? BootstrapServers { get; set; }
        /// <summary>The events topic; the contract's by default.</summary>
        public string Topic { get; set; } = Contracts.KafkaTopics.Events;
    }

    /// <summary>The <c>Sampling</c> subsection.</summary>
    public sealed class SamplingSection
    {
        /// <summary>Share of sessions kept, 0–1 (default 1: all).</summary>
        public double Rate { get; set; } = 1.0;
        /// <summary>Per event type overrides, e.g. <c>"generation.dwell": 0.1</c>.</summary>
        public Dictionary<string, double> ByEventType { get; } = [];
    }

    /// <summary>The <c>Redaction</c> subsection: built-in redactors on <c>input</c>, <c>output</c>, <c>edited_output</c>.</summary>
    public sealed class RedactionSection
    {
        /// <summary>E-mail addresses.</summary>
        public bool Email { get; set; } = true;
        /// <summary>Phone numbers.</summary>
        public bool Phone { get; set; } = true;
        /// <summary>Payment card numbers (Luhn-checked).</summary>
        public bool PaymentCard { get; set; } = true;
        /// <summary>Bearer tokens, API keys and other secrets.</summary>
        public bool Secrets { get; set; } = true;
        /// <summary>IBANs (mod-97-checked).</summary>
        public bool Iban { get; set; } = true;
        /// <summary>US social security, UK National Insurance and passport numbers.</summary>
        public bool NationalId { get; set; } = true;
        /// <summary>Dates after a birth word.</summary>
        public bool DateOfBirth { get; set; } = true;
        /// <summary>IPv4 and IPv6 addresses.</summary>
        public bool IpAddress { get; set; } = true;
        /// <summary>Street addresses and postcodes (a heuristic).</summary>
        public bool PostalAddress { get; set; } = true;

        /// <summary>Whether the built-in redactor <paramref name="redactor"/> is switched on here.</summary>
        internal bool IsOn(Privacy.Redactor redactor) => redactor.Name switch
        {
            "email" => Email,
            "phone" => Phone,
            "payment_card" => PaymentCard,
            "secrets" => Secrets,
            "iban" => Iban,
            "national_id" => NationalId,
            "date_of_birth" => DateOfBirth,
            "ip_address" => IpAddress,
            "postal_address" => PostalAddress,
            _ => true,
        };
    }
}
