using System.Globalization;
using System.Runtime;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// Which garbage collector the process runs, as <c>extract</c>'s first line and <c>bench extract</c>'s result name it.
/// The executable turns the Server GC's dynamic adaptation (DATAS) off (ADR 0043); an operator can turn it back on with
/// <c>DOTNET_GCDynamicAdaptationMode=1</c>, and these names say which one ran.
/// </summary>
internal static class GcMode
{
    /// <summary><c>server</c> or <c>workstation</c>.</summary>
    public static string Name => GCSettings.IsServerGC ? "server" : "workstation";

    /// <summary>Whether the Server GC adapts its heap count and gen0 budget to the application's size (DATAS); never with the workstation GC.</summary>
    public static bool DynamicAdaptation =>
        GCSettings.IsServerGC && GC.GetConfigurationVariables().TryGetValue("GCDynamicAdaptationMode", out var mode) && mode is long and not 0;

    /// <summary>
    /// Arrays of at least this many bytes go to the large object heap: the runtime's 85,000 unless the runtime configuration
    /// (the executable sets 4 MiB, ADR 0048) or <c>DOTNET_GCLOHThreshold</c> says otherwise.
    /// </summary>
    public static long LargeObjectThreshold =>
        GC.GetConfigurationVariables().TryGetValue("LOHThreshold", out var bytes) && bytes is IConvertible value
            ? value.ToInt64(CultureInfo.InvariantCulture)
            : 85_000;

    /// <summary>
    /// Whether memory the GC frees stays committed for reuse instead of going back to the operating system: on as shipped
    /// (ADR 0049), off with <c>DOTNET_GCRetainVM=0</c>.
    /// </summary>
    public static bool RetainVM => GC.GetConfigurationVariables().TryGetValue("RetainVM", out var retain) && retain is true;

    /// <summary>For people: <c>server GC</c>, <c>server GC with dynamic adaptation</c> or <c>workstation GC</c>.</summary>
    public static string Describe() => DynamicAdaptation ? "server GC with dynamic adaptation" : Name + " GC";
}
