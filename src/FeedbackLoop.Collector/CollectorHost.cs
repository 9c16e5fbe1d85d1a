using Confluent.Kafka;
using FeedbackLoop.Collector.Keys;
using FeedbackLoop.Core.Rollouts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Collector;

/// <summary>The collector's parts on an ASP.NET Core host: services, Kestrel's limits, and its routes.</summary>
internal static class CollectorHost
{
    public const string HealthPath = "/healthz";
    public const string ReadyPath = "/readyz";

    /// <summary>Registers the collector; the keys file is read here, so a missing or broken one stops the start.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="options">The collector's limits.</param>
    /// <param name="serving">Where <c>GET /v1/apps/{app}/model</c> reads what an app serves (the store); null answers it 503 serving_unavailable.</param>
    public static IServiceCollection AddCollector(this IServiceCollection services, CollectorOptions options, IServingState? serving = null)
    {
        if (options.Invalid() is { } invalid) throw new ArgumentException(invalid);
        services.AddSingleton(options);
        services.AddSingleton(new InFlightBytes(options.MaxInFlightBytes));
        services.AddSingleton(sp =>
        {
            var inFlight = sp.GetRequiredService<InFlightBytes>();
            return new CollectorMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>(), () => inFlight.Held);
        });
        services.AddSingleton(sp => new KeyRing(
            new WriteKeyFile(options.KeysFile), options.KeysReloadInterval, sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<CollectorMetrics>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger("FeedbackLoop.Collector.Keys")));
        services.AddSingleton(_ => new KafkaDelivery(options));
        services.AddSingleton(sp => new KafkaReadiness(sp.GetRequiredService<KafkaDelivery>()));
        services.AddSingleton(sp => new BatchEndpoint(
            options, sp.GetRequiredService<KeyRing>(), sp.GetRequiredService<InFlightBytes>(), sp.GetRequiredService<KafkaDelivery>(),
            sp.GetRequiredService<CollectorMetrics>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.AddSingleton(sp => new ModelEndpoint(
            options, sp.GetRequiredService<KeyRing>(), serving, sp.GetRequiredService<CollectorMetrics>(), sp.GetService<TimeProvider>() ?? TimeProvider.System));
        services.Configure<KestrelServerOptions>(kestrel => Limit(kestrel, options));
        return services;
    }

    /// <summary>Kestrel's own limits: slow headers and slow bodies end the request; the body may not pass the wire limit.</summary>
    private static void Limit(KestrelServerOptions kestrel, CollectorOptions options)
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
        kestrel.Limits.MinRequestBodyDataRate = new MinDataRate(options.MinBodyBytesPerSecond, options.MinBodyRateGrace);
        kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
        kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
    }

    /// <summary>Maps <c>POST /v1/batch</c>, <c>GET /v1/apps/{app}/model</c>, <c>GET /healthz</c> and <c>GET /readyz</c>; the keys are loaded here, before the first request.</summary>
    public static WebApplication MapCollector(this WebApplication app)
    {
        var endpoint = app.Services.GetRequiredService<BatchEndpoint>();
        var keys = app.Services.GetRequiredService<KeyRing>();
        var readiness = app.Services.GetRequiredService<KafkaReadiness>();
        app.MapPost(BatchEndpoint.Path, endpoint.HandleAsync);
        var model = app.Services.GetRequiredService<ModelEndpoint>();
        app.MapGet(ModelEndpoint.Pattern, (HttpContext context) => model.HandleAsync(context, (string)context.Request.RouteValues["app"]!));
        app.MapGet(HealthPath, () => Results.Text("alive\n"));
        app.MapGet(ReadyPath, () =>
        {
            if (keys.ActiveKeys == 0) return Results.Text("no active write key\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            return readiness.KafkaReachable()
                ? Results.Text("ready\n")
                : Results.Text("kafka unreachable\n", statusCode: StatusCodes.Status503ServiceUnavailable);
        });
        return app;
    }
}

/// <summary>Whether a broker answers a metadata request through the collector's own producer, at most once a second.</summary>
internal sealed class KafkaReadiness(KafkaDelivery delivery) : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);
    private readonly IAdminClient _admin = new DependentAdminClientBuilder(delivery.Handle).Build();
    private readonly Lock _lock = new();
    private DateTime _checkedAt = DateTime.MinValue;
    private bool _reachable;

    public bool KafkaReachable()
    {
        lock (_lock)
        {
            if (DateTime.UtcNow - _checkedAt < CacheFor) return _reachable;
            try
            {
                _reachable = _admin.GetMetadata(Timeout).Brokers.Count > 0;
            }
            catch (KafkaException)
            {
                _reachable = false;
            }
            _checkedAt = DateTime.UtcNow;
            return _reachable;
        }
    }

    public void Dispose() => _admin.Dispose();
}
