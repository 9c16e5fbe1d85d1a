namespace FeedbackLoop.Pipelines;

/// <summary>
/// Which apps exist, and so may train: a run, a model or a promotion only ever appears for one of them. Events carry
/// any app id their sender chose, so "the events named it" never registers an app.
/// </summary>
/// <remarks>
/// Today the one source is the pipeline's <c>apps:</c> list (<see cref="PipelineDefinition"/>). Once the collector
/// issues keys, an app holding one is registered too: that is a second implementation, combined with the pipeline's
/// where the loop is built (<c>LoopHost.RegisteredApps</c>), and nothing that asks this question changes.
/// </remarks>
public interface IRegisteredApps
{
    /// <summary>Whether <paramref name="appId"/> is a registered app.</summary>
    bool IsRegistered(string appId);
}
