namespace FeedbackLoop.Core.Extraction;

/// <summary>One partition's engagement window shares in a checkpoint (see <see cref="Extractor.CheckpointPartition"/>).</summary>
internal sealed partial class EngagementAggregator
{
    /// <summary>
    /// Writes the open shares of <paramref name="partition"/>, with each window's latest record time and the record clock.
    /// The apps' watermarks are not written: they are derived from the partitions this extractor reads (their clocks are in
    /// the checkpoint), and a watermark saved by another instance, over other partitions, could make this one's events late.
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
        return new Shares(recordClock, open);
    }

    /// <summary>
    /// Puts a partition's shares back. The record clock only moves forward: another partition of this extractor may already
    /// have moved it further. Each app's watermark is derived again at its next event or sweep.
    /// </summary>
    public void Restore(int partition, Shares shares)
    {
        AdvanceRecordClock(shares.RecordClock);
        foreach (var (key, accumulator, lastRecordAt) in shares.Open)
        {
            _open[(key, partition)] = accumulator;
            if (lastRecordAt is { } at && (!_lastRecordAt.TryGetValue(key, out var current) || at > current)) _lastRecordAt[key] = at;
        }
    }

    /// <summary>A partition's shares as read from a checkpoint, not yet applied.</summary>
    internal sealed record Shares(
        DateTimeOffset RecordClock,
        List<(WindowKey Key, Accumulator Accumulator, DateTimeOffset? LastRecordAt)> Open);
}
