namespace FeedbackLoop.Core.Extraction;

/// <summary>One partition's engagement window shares in a checkpoint (see <see cref="Extractor.CheckpointPartition"/>).</summary>
internal sealed partial class EngagementAggregator
{
    /// <summary>
    /// Writes the open shares of <paramref name="partition"/>, with what decides when they close: each window's latest
    /// record time, the watermark of each app they belong to, and the record clock.
    /// </summary>
    public void WriteShares(int partition, CheckpointWriter writer)
    {
        writer.Write(_recordClock);
        var shares = _open.Where(s => s.Key.Partition == partition).ToList();
        writer.Write(shares.Count);
        foreach (var ((key, _), accumulator) in shares)
        {
            writer.Write(key.AppId);
            writer.Write(key.ModelVersion);
            writer.Write(key.Variant);
            writer.Write(key.StartTicks);
            writer.Write(accumulator.FirstOffset);
            writer.Write(accumulator.Counts.Length);
            foreach (var count in accumulator.Counts) writer.Write(count);
            writer.Write(accumulator.Dwell.Count);
            foreach (var dwell in accumulator.Dwell) writer.Write(dwell);
            writer.WriteNullable(_lastRecordAt.TryGetValue(key, out var last) ? last : null);
        }
        var apps = shares.Select(s => s.Key.Key.AppId).Distinct(StringComparer.Ordinal).Where(_watermarks.ContainsKey).ToList();
        writer.Write(apps.Count);
        foreach (var appId in apps)
        {
            writer.Write(appId);
            writer.Write(_watermarks[appId]);
        }
    }

    /// <summary>Reads what <see cref="WriteShares"/> wrote, without applying it (a body that fails later changes nothing).</summary>
    public static Shares ReadShares(CheckpointReader reader)
    {
        var recordClock = reader.ReadTime();
        var open = new List<(WindowKey Key, Accumulator Accumulator, DateTimeOffset? LastRecordAt)>();
        var metrics = Enum.GetValues<EngagementMetric>().Length;
        for (int i = 0, n = reader.ReadCount(); i < n; i++)
        {
            var key = new WindowKey(reader.ReadString(), reader.ReadString(), reader.ReadString(), reader.ReadInt64());
            var accumulator = new Accumulator(reader.ReadInt64());
            if (reader.ReadCount(8) != metrics) throw new InvalidDataException("engagement metrics of another version");
            for (var m = 0; m < metrics; m++) accumulator.Counts[m] = reader.ReadInt64();
            for (int d = 0, dwell = reader.ReadCount(8); d < dwell; d++) accumulator.Dwell.Add(reader.ReadInt64());
            open.Add((key, accumulator, reader.ReadNullableTime()));
        }
        var watermarks = new List<(string AppId, DateTimeOffset Watermark)>();
        for (int i = 0, n = reader.ReadCount(); i < n; i++) watermarks.Add((reader.ReadString(), reader.ReadTime()));
        return new Shares(recordClock, open, watermarks);
    }

    /// <summary>
    /// Puts a partition's shares back. Clocks only move forward: another partition of this extractor may already have
    /// moved an app's watermark or the record clock further.
    /// </summary>
    public void Restore(int partition, Shares shares)
    {
        AdvanceRecordClock(shares.RecordClock);
        foreach (var (key, accumulator, lastRecordAt) in shares.Open)
        {
            _open[(key, partition)] = accumulator;
            if (lastRecordAt is { } at && (!_lastRecordAt.TryGetValue(key, out var current) || at > current)) _lastRecordAt[key] = at;
        }
        foreach (var (appId, watermark) in shares.Watermarks) Advance(appId, watermark);
    }

    /// <summary>A partition's shares as read from a checkpoint, not yet applied.</summary>
    internal sealed record Shares(
        DateTimeOffset RecordClock,
        List<(WindowKey Key, Accumulator Accumulator, DateTimeOffset? LastRecordAt)> Open,
        List<(string AppId, DateTimeOffset Watermark)> Watermarks);
}
