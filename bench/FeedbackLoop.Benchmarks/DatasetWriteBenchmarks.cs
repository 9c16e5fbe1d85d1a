using System.Globalization;
using BenchmarkDotNet.Attributes;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Extraction;
using FeedbackLoop.Datasets;

namespace FeedbackLoop.Benchmarks;

/// <summary>
/// One extraction loop's final write in <c>bench extract</c>, alone: 16,000 pairs, 12,000 labels and 3,000 engagement
/// windows into a new data folder (Parquet encoding, Snappy, fsync and rename). The rows are synthetic: answers of about
/// 136 characters and prompts of 166 over two turns, where the bench's pairs carry 146–156 and 115. <c>bench extract</c> moves by a fifth from one run to the next on a two-core VM, so a change
/// to the write path is compared here (docs/BENCHMARKS.md, "A run's final write, in the bench and alone").
/// <c>dotnet run -c Release --project bench/FeedbackLoop.Benchmarks -- --filter *DatasetWrite*</c>
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 10, iterationCount: 30)]
public class DatasetWriteBenchmarks
{
    private const int Pairs = 16_000;
    private const int Labels = 12_000;
    private const int Windows = 3_000;
    private static readonly string[] Signals = [PairSignals.Comparison, PairSignals.Thumbs, PairSignals.Regenerate, PairSignals.Edit];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "feedbackloop-dataset-write-bench");
    private ExtractionOutput _rows = new();
    private string _folder = "";
    private int _iteration;

    [GlobalSetup]
    public void BuildRows()
    {
        var start = new DateTimeOffset(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);
        string Text(string what, int i) => string.Create(CultureInfo.InvariantCulture,
            $"{what} {i}: a reply of about the length the simulated users' sessions carry, with enough words to compress like text does, number {i * 7919 % 10007}.");
        var rows = new ExtractionOutput();
        for (var i = 0; i < Pairs; i++)
        {
            var chosen = "gen-" + i.ToString(CultureInfo.InvariantCulture);
            var signal = Signals[i % Signals.Length];
            rows.Pairs.Add(new PreferencePair(StableId.Pair(signal, chosen, chosen + "-r"), "bench",
                [new ConversationTurn("system", "You are a helpful assistant."), new ConversationTurn("user", Text("question", i))],
                new ConversationTurn("assistant", Text("chosen", i)), new ConversationTurn("assistant", Text("rejected", i)),
                signal, 1.0, chosen, chosen + "-r", "model-a", "model-b", "session-" + (i / 4).ToString(CultureInfo.InvariantCulture),
                "user-" + (i % 500).ToString(CultureInfo.InvariantCulture), start.AddMilliseconds(i)));
        }
        for (var i = 0; i < Labels; i++)
        {
            var generation = "gen-" + i.ToString(CultureInfo.InvariantCulture);
            var user = "user-" + (i % 500).ToString(CultureInfo.InvariantCulture);
            rows.Labels.Add(new FeedbackLabel(StableId.Label(generation, user), "bench", [new ConversationTurn("user", Text("question", i))],
                new ConversationTurn("assistant", Text("answer", i)), i % 3 != 0, generation, "model-a",
                "session-" + (i / 4).ToString(CultureInfo.InvariantCulture), user, start.AddMilliseconds(i)));
        }
        for (var i = 0; i < Windows; i++)
        {
            var minute = start.AddMinutes(i / 48);
            rows.Windows.Add(new EngagementWindow(StableId.Of("engagement", "bench", string.Create(CultureInfo.InvariantCulture, $"model-a||{i}")),
                "bench", "model-a", "", minute, minute.AddMinutes(1), 10, 3, 2, 1, 1, 4, 0, 1, 2, 3, 5, 120.0, 900.0, 1500.0, i % 48));
        }
        _rows = rows;
    }

    [IterationSetup]
    public void NewFolder() => _folder = Path.Combine(_root, (++_iteration).ToString(CultureInfo.InvariantCulture));

    [IterationCleanup]
    public void RemoveFolder() => Directory.Delete(_folder, recursive: true);

    [GlobalCleanup]
    public void RemoveRoot()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    /// <summary>A new store per write, as a loop's first flush after a start: the index starts empty.</summary>
    [Benchmark]
    public Task<ExtractionWriteResult> FinalWrite() => new DatasetStore(_folder).WriteAsync(_rows);
}
