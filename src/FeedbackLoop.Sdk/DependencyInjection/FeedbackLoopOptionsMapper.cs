using System.Diagnostics.Metrics;
using FeedbackLoop.Sdk.Privacy;
using FeedbackLoop.Sdk.Sampling;
using FeedbackLoop.Sdk.Transports;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Sdk.DependencyInjection;

/// <summary>From the configuration shape to the client's options.</summary>
internal static class FeedbackLoopOptionsMapper
{
    public static FeedbackClientOptions ToClientOptions(FeedbackLoopOptions o, IMeterFactory? meterFactory, TimeProvider? time) =>
        ToCheckedClientOptions(o) with
        {
            Sampling = Sampler(o.Sampling),
            UserIdHasher = o.UserIdSecret is { } secret ? UserIdHasher.FromSecret(secret) : null,
            MeterFactory = meterFactory,
            TimeProvider = time ?? TimeProvider.System,
        };

    /// <summary>The options <see cref="FeedbackClientOptions.Problems"/> checks; sampling and the user id secret are checked on their own.</summary>
    public static FeedbackClientOptions ToCheckedClientOptions(FeedbackLoopOptions o) => new()
    {
        AppId = o.AppId,
        MaxQueueLength = o.MaxQueueLength,
        MaxQueueBytes = o.MaxQueueBytes,
        MaxBatchSize = o.MaxBatchSize,
        FlushInterval = o.FlushInterval,
        ShutdownTimeout = o.ShutdownTimeout,
        TruncateLargeInput = o.TruncateLargeInput,
        Retry = o.Retry.Enabled ? new RetryOptions { InitialBackoff = o.Retry.InitialBackoff, MaxBackoff = o.Retry.MaxBackoff, TimeBudget = o.Retry.TimeBudget } : null,
        Spool = string.IsNullOrWhiteSpace(o.Spool.Directory) ? null : new SpoolOptions { Directory = o.Spool.Directory, MaxBytes = o.Spool.MaxBytes, IntegrityKey = o.Spool.IntegrityKey },
        // The defaults' order is the one that works (longer, validated shapes first); switches only leave some out.
        Redactors = Redactor.Defaults.Where(o.Redaction.IsOn).ToList(),
    };

    public static IFeedbackTransport? HttpTransport(FeedbackLoopOptions o, ILogger<HttpFeedbackTransport>? logger = null) =>
        o.Http.Endpoint is { } endpoint
            ? new HttpFeedbackTransport(
                new HttpTransportOptions
                {
                    Endpoint = endpoint, WriteKey = o.Http.WriteKey ?? "", RequestTimeout = o.Http.RequestTimeout, Compress = o.Http.Compress,
                    AllowInsecureHttp = o.Http.AllowInsecureHttp,
                },
                httpClient: null, logger)
            : null;

    private static SessionSampler? Sampler(FeedbackLoopOptions.SamplingSection s) =>
        s.Rate == 1.0 && s.ByEventType.Count == 0 ? null : new SessionSampler(s.Rate, s.ByEventType);
}
