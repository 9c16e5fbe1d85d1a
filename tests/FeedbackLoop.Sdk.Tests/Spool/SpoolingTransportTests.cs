using System.Runtime.Versioning;
using FeedbackLoop.Sdk.Spool;
using FeedbackLoop.Sdk.Tests.Transports;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Sdk.Tests.Spool;

/// <summary>
/// The disk spool's promises, on real files in a private folder per test: what it spools arrives once and
/// in order, through outages and restarts; it stays under its byte cap and counts what it drops; damaged
/// records are skipped and counted, never sent; and it refuses folders others can read. The transport
/// behind it is scripted (it stands in for the broker); the clock is fake so backoffs take no real time.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class SpoolingTransportTests : IDisposable
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    // A record of ScriptedTransport.Event: 24 header + 6 id + 2 session + 64 JSON + 32 MAC.
    private const int RecordBytes = 128;

    private readonly string _root;
    private readonly string _spoolFolder;
    private readonly FakeTimeProvider _clock = new();

    public SpoolingTransportTests()
    {
        _root = Path.Combine(Path.GetTempPath(), "feedbackloop-spool-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root, OwnerOnlyFolder);
        _spoolFolder = Path.Combine(_root, "spool");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData(64, new[] { 500, 500, 200 })]     // small events: the 500-event limit closes a batch
    [InlineData(1_024, new[] { 450, 450, 300 })]  // 1 KiB events: the 450 KiB limit closes it first
    public async Task Events_spooled_during_an_outage_arrive_once_in_order_in_batches_within_the_limits(int jsonBytes, int[] batchSizes)
    {
        var events = ScriptedTransport.Events(0, 1_200, jsonBytes);
        await using (var outage = Open(new ScriptedTransport { Down = true }, new FeedbackClientCounters()))
        {
            foreach (var chunk in events.Chunk(100))
            {
                Assert.Equal(new SendResult(Delivered: 0, Spooled: 100), await outage.SendAsync(chunk, default));
            }
            Assert.Equal(12, outage.DataSyncs); // one fsync per batch, not one per event
        }

        var inner = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        await using var spool = Open(inner, counters);
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(events.Select(e => e.EventId), inner.DeliveredIds);
        Assert.Equal(events[777].Json.ToArray(), inner.Delivered[777].Json.ToArray());
        Assert.Equal("s1", inner.Delivered[777].SessionId);
        Assert.Equal(1_200, counters.Sent);
        Assert.Equal(batchSizes, inner.Batches.Select(b => b.Count));
        Assert.All(inner.Batches, batch => Assert.InRange(batch.Sum(e => e.Json.Length), 1, SpoolingTransport.MaxBatchJsonBytes));
    }

    [Fact]
    public async Task A_transport_that_fails_for_a_while_gets_every_event_exactly_once_after_it_recovers()
    {
        var inner = new ScriptedTransport
        {
            Script = (call, batch) => call switch
            {
                0 => new IOException("connection reset"),
                1 => new FeedbackTransportException("throttled", retryable: true, retryAfter: TimeSpan.FromSeconds(5)),
                // Part of a batch delivered: only the named positions may be offered again.
                2 => new FeedbackTransportException("partition leader moved", retryable: true, undelivered: Enumerable.Range(0, batch.Count).Where(i => i % 2 == 1).ToList()),
                3 => new FeedbackTransportException("still moving", retryable: true, undelivered: [0]),
                _ => null,
            },
        };
        var counters = new FeedbackClientCounters();
        var events = ScriptedTransport.Events(0, 300);
        await using var spool = Open(inner, counters);

        foreach (var chunk in events.Chunk(30))
        {
            Assert.Equal(30, (await spool.SendAsync(chunk, default)).Spooled);
        }
        await Eventually.HoldsAsync(() => Advanced(() => inner.DeliveredIds.Count >= 300), Patience);
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.All(inner.DeliveredIds.GroupBy(id => id), group => Assert.Single(group));
        Assert.Equal(events.Select(e => e.EventId).Order(), inner.DeliveredIds.Order());
        Assert.Equal(300, counters.Sent);
        Assert.True(counters.Retried > 0);
        Assert.Equal(10, spool.DataSyncs);
    }

    [Fact]
    public async Task After_a_restart_the_spool_delivers_what_was_left_once_and_resends_nothing_acknowledged()
    {
        var before = new ScriptedTransport();
        var first = Open(before, new FeedbackClientCounters());
        await first.SendAsync(ScriptedTransport.Events(0, 50), default);
        Assert.True(await first.DrainAsync(Patience, default));
        before.Down = true;
        var calls = before.Calls;
        await first.SendAsync(ScriptedTransport.Events(50, 70), default);
        await Eventually.HoldsAsync(() => before.Calls > calls, Patience);
        await first.DisposeAsync();
        Assert.True(before.Disposed);
        Assert.NotEmpty(Directory.GetFiles(_spoolFolder, "*.seg"));

        var after = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        await using var second = Open(after, counters);
        // New events go to a new segment, behind what was left.
        Assert.Equal(5, (await second.SendAsync(ScriptedTransport.Events(120, 5), default)).Spooled);
        Assert.True(await second.DrainAsync(Patience, default));

        Assert.Equal(ScriptedTransport.Events(0, 50).Select(e => e.EventId), before.DeliveredIds);
        Assert.Equal(ScriptedTransport.Events(50, 70).Concat(ScriptedTransport.Events(120, 5)).Select(e => e.EventId), after.DeliveredIds);
        Assert.Equal(75, counters.Sent);
    }

    [Fact]
    public async Task A_restart_after_a_partial_delivery_sends_only_the_events_not_yet_acknowledged()
    {
        var events = ScriptedTransport.Events(0, 40);
        var before = new ScriptedTransport
        {
            Script = (call, batch) => call == 0
                ? new FeedbackTransportException("two partitions down", retryable: true, undelivered: Enumerable.Range(0, batch.Count).Where(i => i % 2 == 1).ToList())
                : new FeedbackTransportException("broker down"),
        };
        var first = Open(before, new FeedbackClientCounters());
        await first.SendAsync(events, default);
        // The acknowledged half is recorded in the cursor before the pump backs off.
        await Eventually.HoldsAsync(() => File.Exists(Path.Combine(_spoolFolder, "cursor")), Patience);
        await first.DisposeAsync();

        var after = new ScriptedTransport();
        await using var second = Open(after, new FeedbackClientCounters());
        Assert.True(await second.DrainAsync(Patience, default));

        Assert.Equal(events.Where((_, i) => i % 2 == 0).Select(e => e.EventId), before.DeliveredIds);
        Assert.Equal(events.Where((_, i) => i % 2 == 1).Select(e => e.EventId), after.DeliveredIds);
    }

    [Fact]
    public async Task Events_over_the_byte_cap_are_dropped_and_counted_exactly_and_delivery_frees_the_space()
    {
        // Each record is 24 header + 6 id + 2 session + 960 JSON + 32 MAC = 1,024 bytes, so 64 fit in 64 KiB.
        var inner = new ScriptedTransport { Down = true };
        var counters = new FeedbackClientCounters();
        await using var spool = Open(inner, counters, new SpoolOptions { Directory = _spoolFolder, MaxBytes = 65_536, SegmentBytes = 4_096 });

        var spooled = 0;
        foreach (var chunk in ScriptedTransport.Events(0, 100, jsonBytes: 960).Chunk(10))
        {
            spooled += (await spool.SendAsync(chunk, default)).Spooled;
        }

        Assert.Equal(64, spooled);
        Assert.Equal(36, counters.Dropped(DropReason.SpoolFull));
        Assert.Equal(65_536, counters.SpoolBytes);

        inner.Down = false;
        Assert.True(await spool.DrainAsync(Patience, default));
        Assert.Equal(ScriptedTransport.Events(0, 64).Select(e => e.EventId), inner.DeliveredIds);
        Assert.Equal(0, counters.SpoolBytes);
        Assert.Empty(Directory.GetFiles(_spoolFolder, "*.seg"));

        Assert.Equal(10, (await spool.SendAsync(ScriptedTransport.Events(100, 10, jsonBytes: 960), default)).Spooled);
        Assert.Equal(36, counters.Dropped(DropReason.SpoolFull));
    }

    [Fact]
    public async Task A_delivered_live_segment_is_rolled_and_freed_when_it_stands_between_a_batch_and_the_cap()
    {
        // One segment can hold the whole cap; once delivered, its bytes must not keep new events out.
        var inner = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        await using var spool = Open(inner, counters, new SpoolOptions { Directory = _spoolFolder, MaxBytes = 65_536, SegmentBytes = 65_536 });

        Assert.Equal(40, (await spool.SendAsync(ScriptedTransport.Events(0, 40, jsonBytes: 960), default)).Spooled);
        Assert.True(await spool.DrainAsync(Patience, default));
        Assert.Equal(40, (await spool.SendAsync(ScriptedTransport.Events(40, 40, jsonBytes: 960), default)).Spooled);
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(0, counters.Dropped(DropReason.SpoolFull));
        Assert.Equal(80, inner.DeliveredIds.Distinct().Count());
        Assert.Single(Directory.GetFiles(_spoolFolder, "*.seg"));
    }

    [Fact]
    public async Task A_record_whose_checksum_fails_is_skipped_counted_and_never_sent_and_the_rest_arrive()
    {
        var events = ScriptedTransport.Events(0, 10);
        await SpoolAndStop(events);
        // Record 4 starts at 4 · RecordBytes; flip a byte inside its JSON, leaving the header intact.
        FlipByte(SingleSegment(), (4 * RecordBytes) + SpoolRecord.HeaderSize + 8 + 30);

        var inner = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        var logger = new RecordingLogger();
        await using var spool = Open(inner, counters, logger: logger);
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(events.Where((_, i) => i != 4).Select(e => e.EventId), inner.DeliveredIds);
        Assert.Equal(1, counters.Dropped(DropReason.SpoolCorrupt));
        Assert.Contains(logger.Entries.Select(e => e.Message), line => line.Contains("failed its checksum", StringComparison.Ordinal));
        // Log lines name positions, never event content.
        Assert.DoesNotContain(logger.Entries.Select(e => e.Message), line => line.Contains("e0000", StringComparison.Ordinal) || line.Contains("xxxx", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_segment_cut_short_mid_record_delivers_the_whole_records_and_counts_the_tail_once()
    {
        var events = ScriptedTransport.Events(0, 10);
        await SpoolAndStop(events);
        using (var file = new FileStream(SingleSegment(), FileMode.Open, FileAccess.Write))
        {
            file.SetLength((9 * RecordBytes) + 50);
        }

        var inner = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        var logger = new RecordingLogger();
        await using var spool = Open(inner, counters, logger: logger);
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(events.Take(9).Select(e => e.EventId), inner.DeliveredIds);
        Assert.Equal(1, counters.Dropped(DropReason.SpoolCorrupt));
        Assert.Contains(logger.Entries.Select(e => e.Message), line => line.Contains("skipped 50 damaged bytes", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_garbled_header_ends_its_segment_counted_once_and_later_segments_are_still_delivered()
    {
        // 50 records of RecordBytes pass the 4 KiB segment size, so the second batch starts a second segment.
        var events = ScriptedTransport.Events(0, 100);
        await SpoolAndStop(events.Take(50).ToList(), events.Skip(50).ToList(), new SpoolOptions { Directory = _spoolFolder, SegmentBytes = 4_096 });
        var segments = Directory.GetFiles(_spoolFolder, "*.seg").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, segments.Count);
        FlipByte(segments[0], (10 * RecordBytes) + 13); // record 10's JSON length

        var inner = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        await using var spool = Open(inner, counters);
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(events.Take(10).Concat(events.Skip(50)).Select(e => e.EventId), inner.DeliveredIds);
        Assert.Equal(1, counters.Dropped(DropReason.SpoolCorrupt));
    }

    [Fact]
    public async Task A_drain_reports_what_is_left_and_cuts_a_backoff_short_once_the_transport_is_back()
    {
        var inner = new ScriptedTransport { Down = true };
        await using var spool = Open(inner, new FeedbackClientCounters());
        await spool.SendAsync(ScriptedTransport.Events(0, 5), default);
        await Eventually.HoldsAsync(() => inner.Calls > 0, Patience);
        Assert.False(await spool.DrainAsync(TimeSpan.FromMilliseconds(100), default));

        // The pump now waits out a backoff on a clock that never moves; only the drain can wake it.
        inner.Down = false;
        Assert.True(await spool.DrainAsync(Patience, default));
        Assert.Equal(5, inner.DeliveredIds.Count);
    }

    [Fact]
    public async Task A_batch_the_disk_refuses_is_reported_as_a_retryable_failure_and_the_next_one_is_spooled()
    {
        // A folder where the first segment file would go makes creating it fail, as a full disk would.
        Directory.CreateDirectory(_spoolFolder, OwnerOnlyFolder);
        Directory.CreateDirectory(Path.Combine(_spoolFolder, "00000000000000000001.seg"));
        var inner = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        await using var spool = Open(inner, counters);

        var failure = await Assert.ThrowsAsync<FeedbackTransportException>(() => spool.SendAsync(ScriptedTransport.Events(0, 5), default));
        Assert.True(failure.Retryable);
        Assert.Equal(5, (await spool.SendAsync(ScriptedTransport.Events(5, 5), default)).Spooled);
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(ScriptedTransport.Events(5, 5).Select(e => e.EventId), inner.DeliveredIds);
        Assert.Equal(0, counters.DroppedTotal());
    }

    [Fact]
    public async Task An_event_the_record_format_cannot_hold_is_rejected_and_the_rest_of_its_batch_is_spooled()
    {
        var inner = new ScriptedTransport();
        await using var spool = Open(inner, new FeedbackClientCounters());
        var tooLongId = new SerializedEvent(new string('x', 70_000), "s1", "{}"u8.ToArray());

        var result = await spool.SendAsync([ScriptedTransport.Event(0), tooLongId, ScriptedTransport.Event(1)], default);

        Assert.Equal(new SendResult(Delivered: 0, Spooled: 2, Rejected: 1), result);
        Assert.True(await spool.DrainAsync(Patience, default));
        Assert.Equal(new[] { "e00000", "e00001" }, inner.DeliveredIds);
    }

    [Fact]
    public async Task A_new_spool_folder_is_owner_only_and_so_are_its_files()
    {
        await using (var spool = Open(new ScriptedTransport(), new FeedbackClientCounters()))
        {
            await spool.SendAsync(ScriptedTransport.Events(0, 3), default);
            Assert.True(await spool.DrainAsync(Patience, default));
        }

        Assert.Equal(OwnerOnlyFolder, File.GetUnixFileMode(_spoolFolder));
        var files = Directory.GetFiles(_spoolFolder);
        Assert.Contains(files, f => f.EndsWith(".seg", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("cursor", StringComparison.Ordinal));
        Assert.All(files, f => Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(f)));
    }

    [Fact]
    public void An_existing_folder_that_others_can_read_is_refused_with_the_option_and_the_fix()
    {
        Directory.CreateDirectory(_spoolFolder);
        File.SetUnixFileMode(_spoolFolder, OwnerOnlyFolder | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        var refusal = Assert.Throws<ArgumentException>(() => Open(new ScriptedTransport(), new FeedbackClientCounters()));

        Assert.Equal("Spool.Directory", refusal.ParamName);
        Assert.Contains("chmod 700", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("0755", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_spoolFolder));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("/tmp")]
    [InlineData("/var/tmp/")]
    public void The_shared_temp_folder_is_refused(string? folder)
    {
        var options = new SpoolOptions { Directory = folder ?? Path.GetTempPath() };

        var refusal = Assert.Throws<ArgumentException>(() => Open(new ScriptedTransport(), new FeedbackClientCounters(), options));

        Assert.Equal("Spool.Directory", refusal.ParamName);
        Assert.Contains("shared temp folder", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_spool_on_a_folder_in_use_is_refused()
    {
        await using var spool = Open(new ScriptedTransport(), new FeedbackClientCounters());

        var refusal = Assert.Throws<InvalidOperationException>(() => Open(new ScriptedTransport(), new FeedbackClientCounters()));

        Assert.Contains("Spool.Directory", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_bytes_gauge_follows_the_segment_files_on_disk()
    {
        var inner = new ScriptedTransport { Down = true };
        var counters = new FeedbackClientCounters();
        await using var spool = Open(inner, counters, new SpoolOptions { Directory = _spoolFolder, SegmentBytes = 4_096 });
        for (var i = 0; i < 4; i++) await spool.SendAsync(ScriptedTransport.Events(i * 50, 50), default);

        Assert.Equal(4 * 50 * RecordBytes, counters.SpoolBytes);
        Assert.Equal(counters.SpoolBytes, Directory.GetFiles(_spoolFolder, "*.seg").Sum(f => new FileInfo(f).Length));

        inner.Down = false;
        Assert.True(await spool.DrainAsync(Patience, default));
        // Sealed segments are gone once delivered; only the one still open for writing is left.
        Assert.Equal(50 * RecordBytes, counters.SpoolBytes);
        Assert.Single(Directory.GetFiles(_spoolFolder, "*.seg"));
    }

    [Fact]
    public async Task Trace_contexts_of_spooled_events_reach_the_transport_in_the_same_run()
    {
        var inner = new ScriptedTransport { Down = true };
        var events = Traced(ScriptedTransport.Events(0, 300), every: 3);
        await using var spool = Open(inner, new FeedbackClientCounters());
        foreach (var chunk in events.Chunk(50)) await spool.SendAsync(chunk, default);

        inner.Down = false;
        await Eventually.HoldsAsync(() => Advanced(() => inner.DeliveredIds.Count >= 300), Patience);

        var expected = events.ToDictionary(e => e.EventId, e => e.TraceContext);
        Assert.Equal(300, inner.Delivered.Count);
        Assert.All(inner.Delivered, e => Assert.Equal(expected[e.EventId], e.TraceContext));
        Assert.Equal(100, inner.Delivered.Count(e => e.HasTraceContext));
    }

    [Fact]
    public async Task Trace_contexts_do_not_survive_a_restart_the_events_do()
    {
        await SpoolAndStop(Traced(ScriptedTransport.Events(0, 40), every: 1));

        var inner = new ScriptedTransport();
        await using var spool = Open(inner, new FeedbackClientCounters());
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(40, inner.Delivered.Count);
        Assert.All(inner.Delivered, e => Assert.False(e.HasTraceContext));
    }

    [Fact]
    public async Task Past_the_in_memory_cap_further_spooled_events_go_on_without_their_trace_context()
    {
        var inner = new ScriptedTransport { Down = true };
        var over = 2 * SpoolingTransport.MaxBatchEvents;
        var count = SpoolingTransport.MaxTracesInMemory + over;
        var events = Traced(ScriptedTransport.Events(0, count), every: 1);
        await using var spool = Open(inner, new FeedbackClientCounters());
        foreach (var chunk in events.Chunk(1_000)) await spool.SendAsync(chunk, default);

        inner.Down = false;
        await Eventually.HoldsAsync(() => Advanced(() => inner.DeliveredIds.Count >= count), TimeSpan.FromSeconds(60));

        // The cap counts contexts waiting in memory; the pump may already hold its first batch (retrying it
        // while the transport is down), which frees that many. The oldest keep theirs; the newest do not.
        Assert.InRange(inner.Delivered.Count(e => e.HasTraceContext), SpoolingTransport.MaxTracesInMemory, SpoolingTransport.MaxTracesInMemory + SpoolingTransport.MaxBatchEvents);
        Assert.All(inner.Delivered.Take(SpoolingTransport.MaxTracesInMemory), e => Assert.True(e.HasTraceContext));
        Assert.All(inner.Delivered.TakeLast(over - SpoolingTransport.MaxBatchEvents), e => Assert.False(e.HasTraceContext));
    }

    private static List<SerializedEvent> Traced(List<SerializedEvent> events, int every) =>
        events.Select((e, i) => i % every == 0
            ? e with { TraceContext = new System.Diagnostics.ActivityContext(System.Diagnostics.ActivityTraceId.CreateRandom(), System.Diagnostics.ActivitySpanId.CreateRandom(), System.Diagnostics.ActivityTraceFlags.Recorded) }
            : e).ToList();

    private SpoolingTransport Open(ScriptedTransport inner, FeedbackClientCounters counters, SpoolOptions? options = null, ILogger? logger = null) =>
        new(inner, options ?? new SpoolOptions { Directory = _spoolFolder }, counters, _clock, logger ?? NullLogger.Instance);

    // Spools the batches while the transport is down, then stops, leaving them on disk.
    private async Task SpoolAndStop(List<SerializedEvent> events, List<SerializedEvent>? more = null, SpoolOptions? options = null)
    {
        await using var spool = Open(new ScriptedTransport { Down = true }, new FeedbackClientCounters(), options);
        await spool.SendAsync(events, default);
        if (more is not null) await spool.SendAsync(more, default);
    }

    private string SingleSegment() => Assert.Single(Directory.GetFiles(_spoolFolder, "*.seg"));

    private static void FlipByte(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = offset;
        var value = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(value ^ 0x5A));
    }

    // Moves the fake clock past any backoff, then asks again.
    private bool Advanced(Func<bool> condition)
    {
        _clock.Advance(SpoolBackoff.Max);
        return condition();
    }
}
