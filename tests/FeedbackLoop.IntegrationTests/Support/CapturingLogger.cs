using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>Keeps every formatted log line as <c>Level: message</c>, for tests that assert what a component told its operator.</summary>
internal sealed class CapturingLogger : ILogger
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
}
