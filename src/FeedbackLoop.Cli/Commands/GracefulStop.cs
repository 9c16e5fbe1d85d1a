using System.Runtime.InteropServices;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// SIGINT/SIGTERM as a cancellation token, registered before a long-running command prints anything.
/// System.CommandLine registers its own handlers only after the action first yields, which is after a
/// ready line is out: a caller that reads the line and signals at once would kill the process (exit
/// 143/130, nothing disposed). These handlers close that window; the runtime calls every registration for
/// a signal, so System.CommandLine's still run once it has registered.
/// </summary>
internal sealed class GracefulStop : IDisposable
{
    private readonly CancellationTokenSource _stop;
    private readonly PosixSignalRegistration _onSigint;
    private readonly PosixSignalRegistration _onSigterm;

    public GracefulStop(CancellationToken stopping)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _onSigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop);
        _onSigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop);
    }

    /// <summary>Cancelled by a signal or by the command's own token.</summary>
    public CancellationToken Token => _stop.Token;

    public bool IsStopRequested => _stop.IsCancellationRequested;

    public void Dispose()
    {
        _onSigint.Dispose();
        _onSigterm.Dispose();
        _stop.Dispose();
    }

    private void RequestStop(PosixSignalContext context)
    {
        // Cancel the default action (terminate now) so the command cleans up and exits 0.
        context.Cancel = true;
        try
        {
            _stop.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // A signal racing the end of the command: it is already on the way out.
        }
    }
}
