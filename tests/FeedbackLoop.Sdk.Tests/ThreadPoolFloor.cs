using System.Runtime.CompilerServices;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>
/// The test process starts with at least 8 pool threads. On a 2-core machine the pool starts with 2; the test classes that
/// run side by side here hold them (we did not find which call), the pool then adds a thread only every half second or so,
/// and <c>ShutdownTimeoutTests</c>' Kafka case measured that wait (5.67–6.00 s for a 5 s shutdown, about 1 run of the
/// project in 4) instead of the SDK. With the floor it passed 6 runs in 6; forcing 16 threads passed 5 in 5.
/// </summary>
internal static class ThreadPoolFloor
{
    [ModuleInitializer]
    internal static void Raise()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 8), Math.Max(io, 8));
    }
}
