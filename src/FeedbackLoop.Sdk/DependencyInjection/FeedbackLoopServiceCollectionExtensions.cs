using System.Diagnostics.Metrics;
using FeedbackLoop.Sdk.Privacy;
using FeedbackLoop.Sdk.Sampling;
using FeedbackLoop.Sdk.Transports;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FeedbackLoop.Sdk.DependencyInjection;

/// <summary>Registers the SDK the .NET way: options from configuration, validated at start, one client per app.</summary>
public static class FeedbackLoopServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="FeedbackClient"/> configured from the <c>FeedbackLoop</c> section of
    /// <paramref name="configuration"/> (when given) and then <paramref name="configure"/>. The options are
    /// validated when the host starts: a bad value fails start with the option's configuration path. The
    /// transport is the HTTP collector when <c>FeedbackLoop:Http:Endpoint</c> is set; otherwise choose one on
    /// the returned builder (<c>UseKafka</c> from FeedbackLoop.Sdk.Kafka, or <see cref="FeedbackLoopBuilder.UseTransport"/>).
    /// The host disposes the client on shutdown, which delivers what is queued.
    /// </summary>
    public static FeedbackLoopBuilder AddFeedbackLoop(this IServiceCollection services, IConfiguration? configuration = null, Action<FeedbackLoopOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<FeedbackLoopOptions>();
        if (configuration is not null) options.Bind(configuration.GetSection(FeedbackLoopOptions.SectionName));
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FeedbackLoopOptions>, FeedbackLoopOptionsValidator>());
        services.TryAddSingleton(provider =>
        {
            var settings = provider.GetRequiredService<IOptions<FeedbackLoopOptions>>().Value;
            var clientOptions = FeedbackLoopOptionsMapper.ToClientOptions(settings, provider.GetService<IMeterFactory>(), provider.GetService<TimeProvider>());
            var transport = provider.GetService<FeedbackTransportFactory>()?.Create(provider)
                ?? FeedbackLoopOptionsMapper.HttpTransport(settings, provider.GetService<ILogger<HttpFeedbackTransport>>())
                ?? throw new InvalidOperationException("FeedbackLoop: no transport; set FeedbackLoop:Http:Endpoint or call UseKafka()/UseTransport() on AddFeedbackLoop's builder.");
            return new FeedbackClient(clientOptions, transport, provider.GetService<ILogger<FeedbackClient>>());
        });
        return new FeedbackLoopBuilder(services);
    }
}

/// <summary>Chooses the SDK's transport after <see cref="FeedbackLoopServiceCollectionExtensions.AddFeedbackLoop"/>.</summary>
public sealed class FeedbackLoopBuilder
{
    internal FeedbackLoopBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection being configured.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Sends through the transport <paramref name="create"/> builds (the client owns and disposes it).</summary>
    public FeedbackLoopBuilder UseTransport(Func<IServiceProvider, IFeedbackTransport> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        Services.RemoveAll<FeedbackTransportFactory>();
        Services.AddSingleton(new FeedbackTransportFactory(create));
        return this;
    }
}

/// <summary>The transport chosen on the builder.</summary>
internal sealed class FeedbackTransportFactory(Func<IServiceProvider, IFeedbackTransport> create)
{
    public IFeedbackTransport Create(IServiceProvider provider) => create(provider);
}

/// <summary>Checks the bound options by building the client options from them; each failure names its configuration path.</summary>
internal sealed class FeedbackLoopOptionsValidator(IServiceProvider services) : IValidateOptions<FeedbackLoopOptions>
{
    public ValidateOptionsResult Validate(string? name, FeedbackLoopOptions options)
    {
        var failures = new List<string>();
        try
        {
            FeedbackLoopOptionsMapper.ToClientOptions(options, meterFactory: null, time: null).Validate();
        }
        catch (ArgumentException ex)
        {
            failures.Add($"{FeedbackLoopOptionsMapper.PathOf(ex.ParamName)}: {FirstLine(ex.Message)}");
        }
        if (options.Http.Endpoint is { } endpoint)
        {
            if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttps && endpoint.Scheme != Uri.UriSchemeHttp))
                failures.Add("FeedbackLoop:Http:Endpoint: must be an absolute http(s) URL");
            else if (HttpTransportOptions.LeavesMachineInClear(endpoint) && !options.Http.AllowInsecureHttp)
                failures.Add("FeedbackLoop:Http:Endpoint: http:// only to a loopback host; use https://, or set FeedbackLoop:Http:AllowInsecureHttp for a network you trust end to end");
            if (string.IsNullOrWhiteSpace(options.Http.WriteKey))
                failures.Add("FeedbackLoop:Http:WriteKey: required when FeedbackLoop:Http:Endpoint is set");
        }
        else if (services.GetService(typeof(FeedbackTransportFactory)) is null)
        {
            failures.Add("FeedbackLoop:Http:Endpoint: no transport is configured; set it, or call UseKafka()/UseTransport() on AddFeedbackLoop's builder");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    // ArgumentException appends " (Parameter 'x')" on a new line or at the end; the path already says it.
    private static string FirstLine(string message)
    {
        var cut = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return (cut >= 0 ? message[..cut] : message).Split('\n')[0].Trim();
    }
}

/// <summary>From the configuration shape to the client's options.</summary>
internal static class FeedbackLoopOptionsMapper
{
    public static string PathOf(string? parameter) =>
        FeedbackLoopOptions.SectionName + ":" + (parameter ?? "?").Replace('.', ':');

    public static FeedbackClientOptions ToClientOptions(FeedbackLoopOptions o, IMeterFactory? meterFactory, TimeProvider? time)
    {
        // The defaults' order is the one that works (longer, validated shapes first); switches only leave some out.
        var redactors = Redactor.Defaults.Where(o.Redaction.IsOn).ToList();
        return new FeedbackClientOptions
        {
            AppId = o.AppId,
            MaxQueueLength = o.MaxQueueLength,
            MaxQueueBytes = o.MaxQueueBytes,
            MaxBatchSize = o.MaxBatchSize,
            FlushInterval = o.FlushInterval,
            ShutdownTimeout = o.ShutdownTimeout,
            Retry = o.Retry.Enabled ? new RetryOptions { InitialBackoff = o.Retry.InitialBackoff, MaxBackoff = o.Retry.MaxBackoff, TimeBudget = o.Retry.TimeBudget } : null,
            Spool = string.IsNullOrWhiteSpace(o.Spool.Directory) ? null : new SpoolOptions { Directory = o.Spool.Directory, MaxBytes = o.Spool.MaxBytes, IntegrityKey = o.Spool.IntegrityKey },
            Sampling = Sampler(o.Sampling),
            Redactors = redactors,
            UserIdHasher = o.UserIdSecret is { } secret ? Hasher(secret) : null,
            MeterFactory = meterFactory,
            TimeProvider = time ?? TimeProvider.System,
        };
    }

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

    private static SessionSampler? Sampler(FeedbackLoopOptions.SamplingSection s)
    {
        if (s.Rate == 1.0 && s.ByEventType.Count == 0) return null; // out-of-range rates go on to the sampler, which rejects them
        return new SessionSampler(s.Rate, s.ByEventType);
    }

    private static UserIdHasher Hasher(string secret)
    {
        try
        {
            return UserIdHasher.FromSecret(secret);
        }
        catch (ArgumentException ex)
        {
#pragma warning disable CA2208 // the option's name, not this helper's parameter, is what the user must fix
            throw new ArgumentException(ex.Message, nameof(FeedbackLoopOptions.UserIdSecret), ex);
#pragma warning restore CA2208
        }
    }
}
