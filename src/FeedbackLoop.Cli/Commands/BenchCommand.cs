using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using FeedbackLoop.Cli.Simulation;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Kafka.Extraction;
using Microsoft.Extensions.Logging.Abstractions;

namespace FeedbackLoop.Cli.Commands;

/// <summary>
/// <c>feedbackloop bench extract</c>: the extractor's sustained throughput from the embedded cluster, with
/// the raw consume rate of the same records beside it. Both read records that were produced beforehand,
/// so neither competes with a producer for the two cores.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var events = new Option<int>("--sessions") { Description = "Synthetic sessions to produce (about 5.6 events each).", DefaultValueFactory = _ => 40_000 };
        var partitions = new Option<int>("--partitions")
        {
            Description = "Partitions of the bench topic. The in-process cluster keeps only ~5 MiB per partition, so records are spread thin.",
            DefaultValueFactory = _ => 48,
        };
        var runs = new Option<int>("--runs")
        {
            Description = "Measured runs of each kind; the median is reported. An extract run in which the group formed twice is reported apart and run again (at most twice as many runs).",
            DefaultValueFactory = _ => 5,
        };
        var output = new Option<FileInfo>("--out") { Description = "Where to write the JSON result.", DefaultValueFactory = _ => new FileInfo("bench-results/extract.json") };
        var consumers = new Option<int>("--consumers")
        {
            Description = "Extraction loops in the process, as `extract --consumers` runs them. Default: the machine's cores.",
            DefaultValueFactory = _ => Math.Clamp(Environment.ProcessorCount, 1, ExtractCommand.MaxConsumers),
        };

        var extract = new Command("extract", "Measure extractor throughput (events/s) against the raw consume rate of the same records.")
        {
            events, partitions, runs, output, consumers,
        };
        extract.SetAction((parse, ct) => RunExtractAsync(parse.GetValue(events), parse.GetValue(partitions), parse.GetValue(runs), parse.GetValue(consumers), parse.GetValue(output)!,
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return new Command("bench", "Benchmarks of the project's hot paths; results go to bench-results/ and docs/BENCHMARKS.md.") { extract, BenchCollector.Create(), BenchReview.Create() };
    }

    private static async Task<int> RunExtractAsync(int sessions, int partitions, int runs, int consumers, FileInfo output, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (sessions < 1 || partitions < 1 || runs < 1)
        {
            await stderr.WriteLineAsync("--sessions, --partitions and --runs must be positive.").ConfigureAwait(false);
            return 2;
        }
        if (consumers is < 1 or > ExtractCommand.MaxConsumers)
        {
            await stderr.WriteLineAsync($"--consumers must be from 1 to {ExtractCommand.MaxConsumers}.").ConfigureAwait(false);
            return 2;
        }
        // Deployed extractors run the Server GC (ADR 0043); a bench under the workstation GC measures something else, so say so
        // before the minute it takes, not only in the result's "gc".
        if (!GCSettings.IsServerGC && consumers > 1)
            await stderr.WriteLineAsync($"Note: the workstation GC runs here, which stops all {consumers} loops while one core collects. Extractors are deployed with the Server GC; set DOTNET_gcServer=1 to measure what they run (docs/BENCHMARKS.md).").ConfigureAwait(false);
        using var cluster = EmbeddedKafkaCluster.Start(brokers: 3);
        const string topic = "bench.events";
        cluster.CreateTopic(topic, partitions, 3);
        cluster.CreateTopic(topic + ".dlq", 1, 3);

        await stderr.WriteLineAsync($"Producing {sessions:N0} synthetic sessions to {partitions} partitions…").ConfigureAwait(false);
        var (produced, bytes) = Produce(cluster.BootstrapServers, topic, sessions);
        await stderr.WriteLineAsync($"  {produced:N0} events, {bytes / 1024.0 / 1024.0:0.0} MiB ({bytes / (double)produced:0} B/event)").ConfigureAwait(false);

        // Warm-up: the first passes run tier-0 and instrumented (PGO) JIT code while the JIT competes for the two cores;
        // sustained throughput is what the steady state sustains, so unmeasured passes come first. The extractor gets three:
        // profiled with one, its measured runs still spent a sixth of their CPU in the JIT on a loaded machine.
        await stderr.WriteLineAsync("  warm-up passes (not measured)…").ConfigureAwait(false);
        RawConsume(cluster.BootstrapServers, topic, produced, "bench-raw-warmup");
        // The first warm-up is a single loop: the rows it writes are what every run must write, however its loops split the partitions.
        var expectedRows = (await ExtractAsync(cluster.BootstrapServers, topic, partitions, produced, 1, null, "bench-extract-warmup-1").ConfigureAwait(false)).Rows;
        // Then the measured configuration twice: with several loops, more methods tier up while the runs go on.
        for (var warmUp = 2; warmUp <= 3; warmUp++)
            await ExtractAsync(cluster.BootstrapServers, topic, partitions, produced, consumers, expectedRows, $"bench-extract-warmup-{warmUp}").ConfigureAwait(false);

        var raw = new List<double>();
        var extracted = new List<double>();
        var rawCpu = new List<double>();
        var extractCpu = new List<double>();
        var rawAlloc = new List<double>();
        var extractAlloc = new List<double>();
        var extractJit = new List<double>();
        var extractExit = new List<double>();
        var extractGcPause = new List<double>();
        var rebalanced = new List<double>();
        // A run in which the group formed more than once is not counted, and another takes its place (at most as many again as
        // asked for). The in-process cluster's coordinator refuses a member's SyncGroup when it arrives after the leader's
        // (docs/BENCHMARKS.md, "Column-by-column Parquet…"): the member rejoins and the group stops reading for seconds, which
        // measures that coordinator, not the extractor. Such runs are reported apart (extract_rebalanced_runs).
        for (var run = 1; extracted.Count < runs && run <= 2 * runs; run++)
        {
            ct.ThrowIfCancellationRequested();
            var (rawRate, rawCpuPerEvent, rawAllocPerEvent) = RawConsume(cluster.BootstrapServers, topic, produced, $"bench-raw-{run}");
            raw.Add(rawRate);
            rawCpu.Add(rawCpuPerEvent);
            rawAlloc.Add(rawAllocPerEvent);
            await stderr.WriteLineAsync($"  run {run}: raw consume {rawRate:N0} events/s, {rawCpuPerEvent:0.0} µs CPU/event, {rawAllocPerEvent:N0} B allocated/event").ConfigureAwait(false);
            var extract = await ExtractAsync(cluster.BootstrapServers, topic, partitions, produced, consumers, expectedRows, $"bench-extract-{run}").ConfigureAwait(false);
            if (extract.Rebalanced)
            {
                rebalanced.Add(extract.Rate);
                await stderr.WriteLineAsync($"  run {run}: extractor  {extract.Rate:N0} events/s, not counted: the group formed more than once during the run (the in-process coordinator refused a member's SyncGroup)").ConfigureAwait(false);
                continue;
            }
            extracted.Add(extract.Rate);
            extractCpu.Add(extract.CpuMicrosecondsPerEvent);
            extractJit.Add(extract.JitMicrosecondsPerEvent);
            extractAlloc.Add(extract.AllocatedBytesPerEvent);
            extractExit.Add(extract.Exit.TotalMilliseconds);
            extractGcPause.Add(extract.GcPause.TotalMilliseconds);
            await stderr.WriteLineAsync($"  run {run}: extractor  {extract.Rate:N0} events/s, {extract.CpuMicrosecondsPerEvent:0.0} µs CPU/event, JIT {extract.JitMicrosecondsPerEvent:0.0} µs/event, "
                + $"{extract.AllocatedBytesPerEvent:N0} B allocated/event, GC pauses {extract.GcPause.TotalMilliseconds:N0} ms "
                + $"({extract.Rows:N0} rows written; the loops exited {extract.Exit.TotalMilliseconds:N0} ms after the final commit)").ConfigureAwait(false);
        }
        if (extracted.Count == 0)
        {
            await stderr.WriteLineAsync($"Every one of {rebalanced.Count} extract runs saw the group form more than once; no rate to report. Run the bench again.").ConfigureAwait(false);
            return 1;
        }

        var result = new JsonObject
        {
            ["events"] = produced,
            ["bytes_per_event"] = Math.Round(bytes / (double)produced),
            ["partitions"] = partitions,
            ["runs"] = runs,
            ["consumers"] = consumers,
            // The workstation GC stops every thread while one core collects; the server GC collects on all of them
            // (DOTNET_gcServer=1, as docker-compose runs the extractors). Which one ran is part of the result.
            ["gc"] = GcMode.Name,
            // Off unless DOTNET_GCDynamicAdaptationMode=1 turned it back on (ADR 0043): with it, the Server GC started with one
            // heap and small gen0 budgets, and used about a tenth more CPU per event in this bench.
            ["gc_dynamic_adaptation"] = GcMode.DynamicAdaptation,
            // 4 MiB as shipped (ADR 0048): below it, a flush's short-lived arrays die in gen0 instead of filling the large
            // object heap's budget, which starts full collections.
            ["gc_loh_threshold_bytes"] = GcMode.LargeObjectThreshold,
            // On as shipped (ADR 0049): freed GC memory stays committed, so allocations after a collection fault in fewer pages.
            ["gc_retain_vm"] = GcMode.RetainVM,
            ["raw_consume_events_per_s"] = Math.Round(Median(raw)),
            ["extract_events_per_s"] = Math.Round(Median(extracted)),
            // CPU time of the whole process (every thread, the in-process brokers included) per event over the same
            // interval as the rate: on a shared machine it moves far less with the load than the rate does.
            ["raw_consume_cpu_us_per_event"] = Math.Round(Median(rawCpu), 2),
            ["extract_cpu_us_per_event"] = Math.Round(Median(extractCpu), 2),
            // Time the JIT spent compiling (tiering up) during the run, which a long-running extractor pays once: wall time
            // summed over the compiling threads (the runtime's only measure), so near its CPU time on a quiet machine only.
            ["extract_jit_us_per_event"] = Math.Round(Median(extractJit), 2),
            // The rate ends at the last loop's final commit; this is how long the loops took to exit after it (progress marks,
            // leaving the group, closing the clients), which a running extractor never pays. CPU and allocation count it.
            ["extract_exit_ms"] = Math.Round(Median(extractExit)),
            // Managed bytes allocated per event over the same interval, every thread: unlike time, it does not move with the
            // machine's load, so a change to what the hot path allocates shows here even when the rates' noise hides it.
            ["raw_consume_alloc_bytes_per_event"] = Math.Round(Median(rawAlloc)),
            ["extract_alloc_bytes_per_event"] = Math.Round(Median(extractAlloc)),
            // How long garbage collections held every thread still, per run (from the first record to the loops' exit): the
            // pauses are a large and variable part of a run of about a second, and they explain much of the rates' spread.
            ["extract_gc_pause_ms"] = Math.Round(Median(extractGcPause)),
            ["load_average_1m"] = LoadAverage(),
            ["raw_consume_runs"] = new JsonArray(raw.Select(r => (JsonNode)Math.Round(r)).ToArray()),
            ["extract_runs"] = new JsonArray(extracted.Select(r => (JsonNode)Math.Round(r)).ToArray()),
            // Runs not counted because the group formed more than once during them (see the loop above), with their rates.
            ["extract_rebalanced_runs"] = new JsonArray(rebalanced.Select(r => (JsonNode)Math.Round(r)).ToArray()),
            ["machine"] = Machine(),
            ["measured_at"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        };
        output.Directory?.Create();
        await File.WriteAllTextAsync(output.FullName, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
        await stdout.WriteLineAsync($"| {produced:N0} events | {Median(raw):N0} events/s raw consume | {Median(extracted):N0} events/s extract | {Median(extracted) / Median(raw):P0} of raw | {consumers} consumers, {GcMode.Describe()} | {Machine()} |").ConfigureAwait(false);
        await stderr.WriteLineAsync($"Wrote {output.FullName}").ConfigureAwait(false);
        return 0;
    }

    private static (long Count, long Bytes) Produce(string bootstrap, string topic, int sessions)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap, EnableIdempotence = true, Acks = Acks.All, LingerMs = 1000, BatchSize = 1_000_000, BatchNumMessages = 100_000,
            // LZ4, as the collector and the SDK's Kafka transport produce: the extractor reads what they write.
            CompressionType = CompressionType.Lz4,
        }).Build();
        long count = 0, bytes = 0, errors = 0;
        foreach (var evt in SyntheticTraffic.Sessions(sessions))
        {
            var value = EventJson.SerializeToUtf8Bytes(evt);
            bytes += value.Length;
            count++;
            while (true)
            {
                try
                {
                    producer.Produce(topic, new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes(evt.SessionId), Value = value },
                        r => { if (r.Error.IsError) Interlocked.Increment(ref errors); });
                    break;
                }
                catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(50));
                }
            }
        }
        if (producer.Flush(TimeSpan.FromMinutes(2)) > 0 || errors > 0) throw new InvalidOperationException($"bench data not fully produced ({errors} errors)");
        return (count, bytes);
    }

    /// <summary>The 1-minute load average when the result was written (Linux), so a reader can judge how busy the machine was.</summary>
    private static double? LoadAverage()
    {
        try
        {
            return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>CPU time the process has used so far, over all its threads.</summary>
    private static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    private static (double Rate, double CpuMicrosecondsPerEvent, double AllocatedBytesPerEvent) RawConsume(string bootstrap, string topic, long expected, string group)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = group, AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false,
        };
        // The extractor's own fetch settings, so both paths read the broker the same way and the ratio compares the work.
        ExtractorOptions(bootstrap, group, topic, stateDirectory: "").ApplyFetchSettings(config);
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        consumer.Subscribe(topic);
        long read = 0, checksum = 0, first = 0;
        var cpuAtFirst = TimeSpan.Zero;
        long allocatedAtFirst = 0;
        var deadline = Stopwatch.StartNew();
        while (read < expected && deadline.Elapsed < TimeSpan.FromMinutes(3))
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result?.Message?.Value is not { } value) continue;
            if (read++ == 0)
            {
                first = Stopwatch.GetTimestamp();
                cpuAtFirst = ProcessCpu();
                allocatedAtFirst = GC.GetTotalAllocatedBytes();
            }
            checksum += value.Length; // touch the bytes, as any real consumer would
        }
        var elapsed = Stopwatch.GetElapsedTime(first);
        var cpu = ProcessCpu() - cpuAtFirst;
        var allocated = GC.GetTotalAllocatedBytes() - allocatedAtFirst;
        consumer.Close();
        if (read < expected) throw new InvalidOperationException($"raw consume read {read} of {expected} records; the in-process cluster may have dropped old segments (use more --partitions)");
        GC.KeepAlive(checksum);
        return (read / elapsed.TotalSeconds, cpu.TotalMicroseconds / read, allocated / (double)read);
    }

    /// <summary>
    /// One measured extraction: <paramref name="consumers"/> loops in one group on one data folder, as <c>extract --consumers</c>
    /// runs them, until they read every record; the rate runs from the first record read to the final commit. When
    /// <paramref name="expectedRows"/> is given, the run must have written exactly those rows (a loop that re-read after a
    /// rebalance writes no row twice), or the bench fails.
    /// </summary>
    private static async Task<ExtractRun> ExtractAsync(
        string bootstrap, string topic, int partitions, long expected, int consumers, long? expectedRows, string group)
    {
        var data = Path.Combine(Path.GetTempPath(), "feedbackloop-bench-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var together = new Barrier(consumers);
            var loops = Enumerable.Range(1, consumers)
                .Select(consumer => new ExtractionLoop(ExtractorOptions(bootstrap, group, topic, Path.Combine(data, "state")) with
                    {
                        Consumer = consumers == 1 ? null : consumer,
                        BeforeSubscribe = () => together.SignalAndWait(TimeSpan.FromSeconds(30)),
                    },
                    new DatasetStore(data), NullLogger.Instance))
                .ToList();
            using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            var run = Task.WhenAll(loops.Select(loop => loop.RunAsync(stop.Token)));
            long Read() => loops.Sum(loop => loop.Progress.RecordsRead);
            // The CPU clock starts within one poll (2 ms) of the first record, as near to the rate's own start as polling allows.
            while (Read() == 0 && !run.IsCompleted) await Task.Delay(2).ConfigureAwait(false);
            var cpuAtFirst = ProcessCpu();
            var jitAtFirst = JitInfo.GetCompilationTime();
            var allocatedAtFirst = GC.GetTotalAllocatedBytes();
            var pausedAtFirst = GC.GetTotalPauseDuration();
            // Done when every partition is held by a loop that read it to its end. Not a count of records: several loops
            // can re-read records after a rebalance whose commit the group refused, which a count would take for new ones.
            bool ReadAll() => Read() >= expected && loops.Sum(loop => loop.AssignedPartitions) == partitions
                && loops.All(loop => loop.AssignedPartitions == 0 || loop.IsCaughtUp);
            while (!ReadAll() && !run.IsCompleted) await Task.Delay(5).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(false); // includes the final writes and commits
            // From the first record to the last loop's final commit, as documented; the loops' exit after it (leaving the group,
            // the progress marks, closing the clients) is reported apart, since a running extractor never pays it.
            var firstRead = loops.Where(loop => loop.Progress.RecordsRead > 0).Min(loop => loop.Progress.FirstRecordTimestamp);
            var lastCommit = loops.Max(loop => loop.Progress.LastCommitTimestamp);
            var elapsed = Stopwatch.GetElapsedTime(firstRead, lastCommit);
            var exit = Stopwatch.GetElapsedTime(lastCommit);
            var cpu = ProcessCpu() - cpuAtFirst;
            var jit = JitInfo.GetCompilationTime() - jitAtFirst;
            var allocated = GC.GetTotalAllocatedBytes() - allocatedAtFirst;
            var paused = GC.GetTotalPauseDuration() - pausedAtFirst;
            var processed = loops.Sum(loop => loop.Counters.EventsProcessed);
            var deadLettered = loops.Sum(loop => loop.Progress.DeadLettered);
            var rows = loops.Sum(loop => loop.Progress.PairsWritten + loop.Progress.LabelsWritten + loop.Progress.WindowsWritten);
            if (processed < expected || deadLettered != 0 || (expectedRows is { } want && rows != want))
                throw new InvalidOperationException($"the extractor processed {processed} of {expected} events ({deadLettered} dead-lettered) and wrote {rows} rows{(expectedRows is { } w ? $" of {w}" : "")}");
            var rebalanced = loops.Any(loop => loop.Progress.Assignments > 1);
            return new ExtractRun(expected / elapsed.TotalSeconds, cpu.TotalMicroseconds / expected, jit.TotalMicroseconds / expected, allocated / (double)expected, rows, exit, rebalanced, paused);
        }
        finally
        {
            try { Directory.Delete(data, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// One measured extraction: its rate (first record to final commit), its costs per event, its exit after the final commit,
    /// whether the group formed more than once during it (some loop was given partitions twice), and how long the garbage
    /// collector held every thread still over the same interval as the CPU.
    /// </summary>
    private sealed record ExtractRun(
        double Rate, double CpuMicrosecondsPerEvent, double JitMicrosecondsPerEvent, double AllocatedBytesPerEvent, long Rows, TimeSpan Exit, bool Rebalanced, TimeSpan GcPause);

    private static ExtractionLoopOptions ExtractorOptions(string bootstrap, string group, string topic, string stateDirectory) => new()
    {
        BootstrapServers = bootstrap, StateDirectory = stateDirectory, GroupId = group, Topic = topic, DeadLetterTopic = topic + ".dlq",
    };

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    internal static string Machine()
    {
        var cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException)
        {
            // Not Linux: the core count and OS below still say what ran it.
        }
        return $"{Environment.ProcessorCount} cores, {cpu}, {RuntimeInformation.OSDescription}, .NET {Environment.Version}";
    }
}
