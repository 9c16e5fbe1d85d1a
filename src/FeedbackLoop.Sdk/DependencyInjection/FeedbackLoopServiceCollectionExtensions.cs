using System.Diagnostics.Metrics;
using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// In the namespace apps already import for services.AddXxx(...), as Microsoft's own extensions are.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the SDK the .NET way: options from configuration, validated at start, one client per app.</summary>
public static class FeedbackLoopServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="FeedbackClient"/> configured from the <c>FeedbackLoop</c> section of
    /// <paramref name="configuration"/> (when given) and then <paramref name="configure"/>. See the overload that takes
    /// the section itself.
    /// </summary>
    public static FeedbackLoopBuilder AddFeedbackLoop(this IServiceCollection services, IConfiguration? configuration = null, Action<FeedbackLoopOptions>? configure = null) =>
        services.AddFeedbackLoop(configuration?.GetSection(FeedbackLoopOptions.SectionName), configure);

    /// <summary>
    /// Adds a singleton <see cref="FeedbackClient"/>, also registered as <see cref="IFeedbackClient"/> (a
    /// <see cref="NullFeedbackClient"/> instead while <c>Enabled</c> is false), configured from <paramref name="section"/> (for example
    /// <c>configuration.GetSection("FeedbackLoop")</c>) and then <paramref name="configure"/>. Every option is checked
    /// when the host starts: start fails with all the problems at once, each under its configuration path. The
    /// transport is the HTTP collector when <c>Http:Endpoint</c> is set; otherwise choose one on the returned builder
    /// (<c>UseKafka</c> from FeedbackLoop.Sdk.Kafka, or <see cref="FeedbackLoopBuilder.UseTransport"/>). The host
    /// disposes the client on shutdown, which delivers what is queued.
    /// </summary>
    public static FeedbackLoopBuilder AddFeedbackLoop(this IServiceCollection services, IConfigurationSection? section, Action<FeedbackLoopOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<FeedbackLoopOptions>();
        if (section is not null) options.Bind(section);
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddSingleton(new FeedbackLoopConfiguration(section));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FeedbackLoopOptions>, FeedbackLoopOptionsValidator>());
        services.TryAddSingleton(provider =>
        {
            var settings = provider.GetRequiredService<IOptions<FeedbackLoopOptions>>().Value;
            if (!settings.Enabled)
            {
                throw new InvalidOperationException(
                    $"{provider.GetRequiredService<FeedbackLoopConfiguration>().Path}:Enabled is false, so there is no FeedbackClient; depend on IFeedbackClient, which is a no-op while the SDK is off.");
            }
            var clientOptions = FeedbackLoopOptionsMapper.ToClientOptions(settings, provider.GetService<IMeterFactory>(), provider.GetService<TimeProvider>());
            var transport = provider.GetService<FeedbackTransportFactory>()?.Create(provider)
                ?? FeedbackLoopOptionsMapper.HttpTransport(settings, provider.GetService<ILogger<FeedbackLoop.Sdk.Transports.HttpFeedbackTransport>>())
                ?? throw new InvalidOperationException(FeedbackLoopOptionsCheck.NoTransport(provider.GetRequiredService<FeedbackLoopConfiguration>().Path));
            return new FeedbackClient(clientOptions, transport, provider.GetService<ILogger<FeedbackClient>>());
        });
        // The same instance under both types. The container then disposes it twice; the second shutdown returns at once.
        services.TryAddSingleton<IFeedbackClient>(provider =>
            provider.GetRequiredService<IOptions<FeedbackLoopOptions>>().Value.Enabled
                ? provider.GetRequiredService<FeedbackClient>()
                : NullFeedbackClient.Instance);
        return new FeedbackLoopBuilder(services);
    }
}
