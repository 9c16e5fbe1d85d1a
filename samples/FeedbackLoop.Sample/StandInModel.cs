using Microsoft.Extensions.AI;

namespace FeedbackLoop.Sample;

/// <summary>Answers without a model (replace it with your provider's IChatClient): a vague first answer, then a useful one.</summary>
internal sealed class StandInModel : IChatClient
{
    private int _calls;

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, Interlocked.Increment(ref _calls) % 2 == 1
            ? "Please check the documentation."
            : "Open Settings > Security, choose 'Reset password' and follow the e-mailed link."))
        { ModelId = "stand-in-1" });

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the stand-in model does not stream");

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose()
    {
    }
}
