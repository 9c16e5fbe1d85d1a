using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>Running totals of one extractor process; read it for progress and at exit.</summary>
public sealed class ExtractionProgress
{
    private long _recordsRead;
    private long _deadLettered;
    private long _pairsWritten;
    private long _labelsWritten;
    private long _windowsWritten;
    private long _rowsAlreadyPresent;
    private long _replayedRecords;
    private long _flushes;
    private long _firstRecordTimestamp;

    /// <summary>Kafka records read (valid or not).</summary>
    public long RecordsRead => Interlocked.Read(ref _recordsRead);
    /// <summary>Records sent to the dead-letter topic.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);
    /// <summary>Preference pairs written to Parquet.</summary>
    public long PairsWritten => Interlocked.Read(ref _pairsWritten);
    /// <summary>Labels written to Parquet.</summary>
    public long LabelsWritten => Interlocked.Read(ref _labelsWritten);
    /// <summary>Engagement windows written to Parquet.</summary>
    public long WindowsWritten => Interlocked.Read(ref _windowsWritten);
    /// <summary>Rows skipped because their id was already in the dataset (replays).</summary>
    public long RowsAlreadyPresent => Interlocked.Read(ref _rowsAlreadyPresent);
    /// <summary>Records re-read to rebuild the state of sessions still open at the last stop.</summary>
    public long ReplayedRecords => Interlocked.Read(ref _replayedRecords);
    /// <summary>Completed write-and-commit cycles.</summary>
    public long Flushes => Interlocked.Read(ref _flushes);

    /// <summary><see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when the first record was read; 0 before.</summary>
    public long FirstRecordTimestamp => Interlocked.Read(ref _firstRecordTimestamp);

    internal void RecordRead()
    {
        if (Interlocked.Increment(ref _recordsRead) == 1) Interlocked.Exchange(ref _firstRecordTimestamp, System.Diagnostics.Stopwatch.GetTimestamp());
    }
    internal void RecordReplayed() => Interlocked.Increment(ref _replayedRecords);
    internal void RecordDeadLetter() => Interlocked.Increment(ref _deadLettered);

    internal void RecordWrite(ExtractionWriteResult result)
    {
        Interlocked.Add(ref _pairsWritten, result.PairsWritten);
        Interlocked.Add(ref _labelsWritten, result.LabelsWritten);
        Interlocked.Add(ref _windowsWritten, result.WindowsWritten);
        Interlocked.Add(ref _rowsAlreadyPresent, result.RowsAlreadyPresent);
        Interlocked.Increment(ref _flushes);
    }
}
