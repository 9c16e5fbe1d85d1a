using Confluent.Kafka;
using FeedbackLoop.Contracts;
using Record = Confluent.Kafka.ConsumeResult<System.ReadOnlyMemory<byte>?, System.ReadOnlyMemory<byte>?>;
using RecordConsumer = Confluent.Kafka.IConsumer<System.ReadOnlyMemory<byte>?, System.ReadOnlyMemory<byte>?>;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// What <see cref="EventJson.TryParse"/> said about a record's value, computed ahead of the record's turn. Default (not
/// <see cref="IsParsed"/>): not parsed yet, or parsing threw; the loop then parses inline, where a failure is handled as
/// it always was.
/// </summary>
internal readonly record struct ParsedValue(FeedbackEvent? Event, EventRejection? Rejection, bool IsParsed);

/// <summary>
/// Hands the consume loop its records one at a time, in the order the consumer returned them, with each value already
/// parsed where possible: while the loop applies one batch on its thread, the next batch (what the client has already
/// fetched, at most <see cref="ExtractionLoopOptions.ReadAheadRecords"/> records and <see cref="ExtractionLoopOptions.ReadAheadBytes"/>
/// bytes) is parsed on a thread-pool thread, so parsing,
/// the largest per-record cost, runs on the second core. A record the worker has not reached when its turn comes is
/// parsed by the loop itself (records are claimed in order by whichever thread comes first), so a busy or late worker
/// never stalls the loop. Nothing else moves: every record is still checked, applied, counted and dead-lettered on the
/// loop's thread, in order, and offsets advance only as records are applied there. The consumer is only ever called on
/// the loop's thread (rebalance callbacks run inside it), and a callback first takes every record read so far
/// (<see cref="TakeAll"/>), so a revoke finds them applied exactly as if they had been handed out one by one.
/// Records' bytes live in <see cref="Blocks"/> (the consumer's deserializer); a batch gives its blocks back when the loop
/// asks for the record after its last, that is, once every record of it was parsed and handled.
/// </summary>
internal sealed class RecordReadAhead(int batchSize, long batchBytes = long.MaxValue)
{
    private Batch _ready = Batch.Empty;
    // Without read-ahead: the blocks of the record handed out last, given back at the next call.
    private List<byte[]>? _handedOut;
    private int _next;
    private Batch? _parsing;
    // The records of the batch being collected; a rebalance callback can run (and take them) while it is.
    private List<Record>? _collecting;
    // A consume error met after some records were collected: raised once they are handed out, so the order holds.
    private ConsumeException? _deferred;

    /// <summary>The key and value deserializer the consumer must use: where the records' bytes live until they are handled.</summary>
    public RecordBlocks Blocks { get; } = new();

    /// <summary>The most bytes (keys and values) one batch collected so far: what the byte bound held it to.</summary>
    public long LargestBatchBytes { get; private set; }

    /// <summary>
    /// The next record or end-of-partition marker, and its parsed value; null when nothing arrived within
    /// <paramref name="timeout"/>. Throws the consumer's errors as <see cref="IConsumer{TKey,TValue}.Consume(TimeSpan)"/> does.
    /// </summary>
    public Record? Next(RecordConsumer consumer, TimeSpan timeout, out ParsedValue parsed)
    {
        if (batchSize <= 1)
        {
            RecordBlocks.Return(_handedOut);
            parsed = default;
            var result = consumer.Consume(timeout);
            _handedOut = Blocks.Seal();
            return result;
        }
        while (true)
        {
            if (_next < _ready.Results.Count)
            {
                parsed = _ready.Get(_next);
                return _ready.Results[_next++];
            }
            // Every record of the batch was handed out, parsed, and handled before this call: its bytes are read no more.
            _ready.ReturnBlocks();
            if (_parsing is { } parsing)
            {
                _parsing = null;
                SetReady(parsing);
                // What the client already holds is parsed while the loop applies this batch; after an error nothing more is
                // read until the error was raised in its place.
                if (_deferred is null) StartParsing(Collect(consumer, TimeSpan.Zero));
                continue;
            }
            if (_deferred is { } error)
            {
                _deferred = null;
                throw error;
            }
            var (first, blocks) = Collect(consumer, timeout);
            if (first.Count == 0)
            {
                RecordBlocks.Return(blocks);
                parsed = default;
                return null;
            }
            var batch = new Batch(first, blocks);
            batch.ParseOnWorker();
            SetReady(batch);
            // And what the client already holds behind it is parsed while the loop applies this one (unless an error ended
            // this batch: nothing more is read before it is raised). Without this the next batch was only read once this one
            // was used up, so the worker never ran ahead of the loop (until 2026-12-02).
            if (_deferred is null) StartParsing(Collect(consumer, TimeSpan.Zero));
        }
    }

    /// <summary>
    /// Every record read but not yet handed out, in order (records of the batch being collected are left unparsed, for the
    /// loop to parse): a rebalance callback applies them before it flushes.
    /// </summary>
    public List<(Record Result, ParsedValue Parsed)> TakeAll()
    {
        var all = new List<(Record, ParsedValue)>();
        for (; _next < _ready.Results.Count; _next++) all.Add((_ready.Results[_next], _ready.Get(_next)));
        if (_parsing is { } parsing)
        {
            _parsing = null;
            for (var i = 0; i < parsing.Results.Count; i++) all.Add((parsing.Results[i], parsing.Get(i)));
        }
        if (_collecting is { } collecting)
        {
            foreach (var result in collecting) all.Add((result, default));
            collecting.Clear();
        }
        _ready = Batch.Empty;
        _next = 0;
        return all;
    }

    /// <summary>Forgets what was read and not handed out (the loop stopped: those records stay uncommitted and are read again).</summary>
    public void Discard()
    {
        // A worker still parsing a dropped batch only writes into that batch.
        _parsing = null;
        _collecting?.Clear();
        _ready = Batch.Empty;
        _next = 0;
        _deferred = null;
    }

    private void SetReady(Batch batch)
    {
        _ready = batch;
        _next = 0;
    }

    private void StartParsing((List<Record> Results, List<byte[]>? Blocks) collected)
    {
        var (results, blocks) = collected;
        if (results.Count == 0)
        {
            RecordBlocks.Return(blocks);
            return;
        }
        var batch = new Batch(results, blocks);
        batch.ParseOnWorker();
        _parsing = batch;
    }

    /// <summary>Records the client returns within <paramref name="timeout"/> for the first and at once for the rest, up to the batch size.</summary>
    private (List<Record> Results, List<byte[]>? Blocks) Collect(RecordConsumer consumer, TimeSpan timeout)
    {
        var results = new List<Record>(batchSize);
        _collecting = results;
        long bytes = 0;
        try
        {
            var result = consumer.Consume(timeout);
            while (result is not null)
            {
                results.Add(result);
                bytes += (result.Message?.Key?.Length ?? 0) + (result.Message?.Value?.Length ?? 0);
                if (results.Count >= batchSize || bytes >= batchBytes) break;
                result = consumer.Consume(TimeSpan.Zero);
            }
        }
        catch (ConsumeException ex) when (!ex.Error.IsFatal && (results.Count > 0 || _next < _ready.Results.Count))
        {
            _deferred = ex;
        }
        finally
        {
            _collecting = null;
            LargestBatchBytes = Math.Max(LargestBatchBytes, bytes);
        }
        return (results, Blocks.Seal());
    }

    private sealed class Batch(List<Record> results, List<byte[]>? blocks)
    {
        public static readonly Batch Empty = new([], null);
        private readonly ParsedValue[] _parsed = new ParsedValue[results.Count];
        // 1 once record i is parsed (or its parse threw); records are claimed in order through _claimed by either thread.
        private readonly int[] _done = new int[results.Count];
        private int _claimed;

        public List<Record> Results { get; } = results;

        public void ReturnBlocks() => RecordBlocks.Return(blocks);

        public void ParseOnWorker()
        {
            if (Results.Count > 0) ThreadPool.UnsafeQueueUserWorkItem(static batch => batch.ParseAll(), this, preferLocal: false);
        }

        /// <summary>Record <paramref name="index"/>'s parsed value: parsed ahead, or parsed now (helping with the records the
        /// worker has not claimed) until the worker finished the one it holds.</summary>
        public ParsedValue Get(int index)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _done[index]) == 0)
            {
                if (TryClaim(out var next)) ParseOne(next);
                else spin.SpinOnce();
            }
            return _parsed[index];
        }

        private void ParseAll()
        {
            while (TryClaim(out var index)) ParseOne(index);
        }

        private bool TryClaim(out int index)
        {
            if (Volatile.Read(ref _claimed) >= _done.Length)
            {
                index = -1;
                return false;
            }
            index = Interlocked.Increment(ref _claimed) - 1;
            return index < _done.Length;
        }

        private void ParseOne(int index)
        {
            if (Results[index].Message?.Value is { Length: > 0 } value)
            {
                try
                {
                    _ = EventJson.TryParse(value.Span, out var evt, out var rejection);
                    _parsed[index] = new ParsedValue(evt, rejection, true);
                }
                catch (Exception)
                {
                    // Left unparsed: the loop parses the record again and handles the failure as it always did.
                }
            }
            Volatile.Write(ref _done[index], 1);
        }
    }
}
