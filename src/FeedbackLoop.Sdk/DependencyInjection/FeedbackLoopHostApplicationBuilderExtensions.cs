using FeedbackLoop.Sdk;
using FeedbackLoop.Sdk.DependencyInjection;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.Extensions.Hosting;

/// <summary>Registers the SDK on a host builder (<c>Host.CreateApplicationBuilder</c>, <c>WebApplication.CreateBuilder</c>).</summary>
public static class FeedbackLoopHostApplicationBuilderExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="FeedbackClient"/> configured from the host's <c>FeedbackLoop</c> section and then
    /// <paramref name="configure"/>; see <see cref="FeedbackLoopServiceCollectionExtensions.AddFeedbackLoop(IServiceCollection, Configuration.IConfigurationSection?, Action{FeedbackLoopOptions}?)"/>.
    /// </summary>
    public static FeedbackLoopBuilder AddFeedbackLoop(this IHostApplicationBuilder builder, Action<FeedbackLoopOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Services.AddFeedbackLoop(builder.Configuration.GetSection(FeedbackLoopOptions.SectionName), configure);
    }
}
