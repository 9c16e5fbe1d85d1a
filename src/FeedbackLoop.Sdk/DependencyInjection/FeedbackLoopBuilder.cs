using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FeedbackLoop.Sdk.DependencyInjection;

/// <summary>Chooses the SDK's transport after <c>services.AddFeedbackLoop(...)</c>.</summary>
public sealed class FeedbackLoopBuilder
{
    internal FeedbackLoopBuilder(IServiceCollection services) => Services = services;

    /// <summary>The service collection being configured.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Sends through the transport <paramref name="create"/> builds (the client owns and disposes it).</summary>
    public FeedbackLoopBuilder UseTransport(Func<IServiceProvider, IFeedbackTransport> create) => UseNamedTransport("custom", create, check: null);

    /// <summary>
    /// Chooses a transport by <paramref name="name"/> (for messages); <paramref name="check"/> reports what is wrong with
    /// its options at start, as (key under the section, problem) pairs.
    /// </summary>
    internal FeedbackLoopBuilder UseNamedTransport(string name, Func<IServiceProvider, IFeedbackTransport> create, Func<FeedbackLoopOptions, IEnumerable<(string Key, string Problem)>>? check)
    {
        ArgumentNullException.ThrowIfNull(create);
        Services.RemoveAll<FeedbackTransportFactory>();
        Services.AddSingleton(new FeedbackTransportFactory(name, create, check));
        return this;
    }
}

/// <summary>The transport chosen on the builder.</summary>
internal sealed class FeedbackTransportFactory(string name, Func<IServiceProvider, IFeedbackTransport> create, Func<FeedbackLoopOptions, IEnumerable<(string Key, string Problem)>>? check)
{
    public string Name => name;

    public IFeedbackTransport Create(IServiceProvider provider) => create(provider);

    public IEnumerable<(string Key, string Problem)> Check(FeedbackLoopOptions options) => check?.Invoke(options) ?? [];
}

/// <summary>The section the options were bound from: its path names every problem, its raw values show how a duration was written.</summary>
internal sealed class FeedbackLoopConfiguration(Microsoft.Extensions.Configuration.IConfigurationSection? section)
{
    public string Path { get; } = section?.Path is { Length: > 0 } path ? path : FeedbackLoopOptions.SectionName;

    public string? Raw(string key) => section?[key];
}
