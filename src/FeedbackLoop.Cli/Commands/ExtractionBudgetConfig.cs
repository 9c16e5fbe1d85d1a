using System.Globalization;
using FeedbackLoop.Core.Extraction;
using Microsoft.Extensions.Configuration;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// The session budgets of <c>extract</c> from the host's configuration (appsettings.json, or the environment as
/// <c>FeedbackLoop__Extraction__MaxSessionBytes</c>): they depend on the machine's memory, so the operator sets
/// them where the host's other knobs live. A key that is absent keeps the default of <see cref="ExtractionSettings"/>.
/// </summary>
internal static class ExtractionBudgetConfig
{
    public const string MaxEntriesPerSessionKey = "FeedbackLoop:Extraction:MaxEntriesPerSession";
    public const string MaxSessionBytesKey = "FeedbackLoop:Extraction:MaxSessionBytes";
    public const string MaxSessionStateBytesKey = "FeedbackLoop:Extraction:MaxSessionStateBytes";

    /// <summary>The settings with the configured budgets, or the first key whose value is not a positive whole number.</summary>
    public static (ExtractionSettings? Settings, string? InvalidKey) Read(IConfiguration configuration)
    {
        var settings = new ExtractionSettings();
        if (!TryRead(configuration, MaxEntriesPerSessionKey, settings.MaxEntriesPerSession, out var entries)) return (null, MaxEntriesPerSessionKey);
        if (!TryRead(configuration, MaxSessionBytesKey, settings.MaxSessionBytes, out var sessionBytes)) return (null, MaxSessionBytesKey);
        if (!TryRead(configuration, MaxSessionStateBytesKey, settings.MaxSessionStateBytes, out var stateBytes)) return (null, MaxSessionStateBytesKey);
        if (entries > int.MaxValue) return (null, MaxEntriesPerSessionKey);
        return (settings with { MaxEntriesPerSession = (int)entries, MaxSessionBytes = sessionBytes, MaxSessionStateBytes = stateBytes }, null);
    }

    private static bool TryRead(IConfiguration configuration, string key, long fallback, out long value)
    {
        value = fallback;
        return configuration[key] is not { Length: > 0 } text
            || (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0);
    }

    public const string CheckpointSecondsKey = "FeedbackLoop:Extraction:CheckpointSeconds";
    public const string CheckpointMaxRecordsKey = "FeedbackLoop:Extraction:CheckpointMaxRecords";
    public const string MaxCheckpointBytesKey = "FeedbackLoop:Extraction:MaxCheckpointBytes";
    public const string FlushSecondsKey = "FeedbackLoop:Extraction:FlushSeconds";

    /// <summary>
    /// How often rows are written (<c>FlushSeconds</c>) and partition checkpoints taken (ADR 0014), from the same
    /// configuration: absent keys keep the defaults of <see cref="Kafka.Extraction.ExtractionLoopOptions"/> and
    /// <see cref="ExtractionSettings"/>; else the first key whose value is not a positive whole number in range. Each flush
    /// adds a file per (app, kind) that got rows, so a longer flush means fewer, larger files and later rows
    /// (docs/contract/kafka.md).
    /// </summary>
    public static (TimeSpan Interval, long MaxRecords, long MaxBytes, TimeSpan Flush, string? InvalidKey) ReadCadence(IConfiguration configuration)
    {
        static (TimeSpan, long, long, TimeSpan, string?) Refused(string key) => (default, 0, 0, default, key);
        var defaults = new Kafka.Extraction.ExtractionLoopOptions { BootstrapServers = "-", StateDirectory = "-" };
        if (!TryRead(configuration, CheckpointSecondsKey, (long)defaults.CheckpointInterval.TotalSeconds, out var seconds) || seconds > 86_400)
            return Refused(CheckpointSecondsKey);
        if (!TryRead(configuration, CheckpointMaxRecordsKey, defaults.CheckpointMaxRecords, out var records)) return Refused(CheckpointMaxRecordsKey);
        if (!TryRead(configuration, MaxCheckpointBytesKey, new ExtractionSettings().MaxCheckpointBytes, out var bytes) || bytes > int.MaxValue)
            return Refused(MaxCheckpointBytesKey);
        if (!TryRead(configuration, FlushSecondsKey, (long)defaults.FlushInterval.TotalSeconds, out var flush) || flush > 86_400)
            return Refused(FlushSecondsKey);
        return (TimeSpan.FromSeconds(seconds), records, bytes, TimeSpan.FromSeconds(flush), null);
    }
}
