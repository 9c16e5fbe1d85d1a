using System.Text.Json;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets.Snapshots;
using Parquet.Serialization;

namespace FeedbackLoop.Datasets.Export;

/// <summary>How many rows an export wrote, and where.</summary>
public sealed record ExportResult(string Path, string Format, long Rows);

/// <summary>
/// Writes a snapshot's training rows (review applied) in one of <see cref="ExportFormats"/>. Every format holds the pairs in
/// <c>pair_id</c> order; the file appears whole or not at all (temporary name, fsync, rename).
/// </summary>
public static class SnapshotExport
{
    /// <summary>Rows per Arrow record batch: bounds the memory a batch takes, whatever the snapshot's size.</summary>
    public const int ArrowBatchRows = 65_536;

    /// <summary>Writes <paramref name="rows"/> to <paramref name="outPath"/> in <paramref name="format"/>.</summary>
    public static async Task<ExportResult> WriteAsync(SnapshotRows rows, string format, string outPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (!ExportFormats.All.Contains(format, StringComparer.Ordinal))
            throw new ArgumentException("the export format is one of " + string.Join(", ", ExportFormats.All));
        var full = Path.GetFullPath(outPath);
        if (Directory.Exists(full)) throw new ArgumentException("the export path is a folder; name the file to write (--out <folder>/export.jsonl)");
        DurableFile.CreatePrivateDirectory(Path.GetDirectoryName(full)!);
        long written = 0;
        await DurableFile.WriteAsync(full, async stream => written = format switch
        {
            ExportFormats.Trl => await JsonLinesAsync(stream, rows.Pairs.Select(TrlLine), cancellationToken).ConfigureAwait(false),
            ExportFormats.OpenAi => await JsonLinesAsync(stream, rows.Pairs.Select(OpenAiLine), cancellationToken).ConfigureAwait(false),
            ExportFormats.Kto => await JsonLinesAsync(stream, KtoLines(rows), cancellationToken).ConfigureAwait(false),
            ExportFormats.Parquet => await ParquetAsync(stream, rows, cancellationToken).ConfigureAwait(false),
            _ => await ArrowExport.WriteAsync(stream, rows.Pairs, ArrowBatchRows, cancellationToken).ConfigureAwait(false),
        }, cancellationToken).ConfigureAwait(false);
        return new ExportResult(full, format, written);
    }

    private static Action<Utf8JsonWriter> TrlLine(ReviewedPair row) => w =>
    {
        w.WriteString("pair_id", row.Pair.PairId);
        Messages(w, "prompt", row.Pair.Prompt);
        Messages(w, "chosen", [row.Pair.Chosen]);
        Messages(w, "rejected", [row.Pair.Rejected]);
    };

    private static Action<Utf8JsonWriter> OpenAiLine(ReviewedPair row) => w =>
    {
        w.WriteStartObject("input");
        Messages(w, "messages", row.Pair.Prompt);
        w.WriteEndObject();
        Messages(w, "preferred_output", [row.Pair.Chosen]);
        Messages(w, "non_preferred_output", [row.Pair.Rejected]);
    };

    private static IEnumerable<Action<Utf8JsonWriter>> KtoLines(SnapshotRows rows)
    {
        foreach (var row in rows.Pairs)
        {
            yield return Kto(row.Pair.PairId, "pair", row.Pair.Prompt, row.Pair.Chosen, true);
            yield return Kto(row.Pair.PairId, "pair", row.Pair.Prompt, row.Pair.Rejected, false);
        }
        foreach (var row in rows.Labels)
            yield return Kto(row.Label.LabelId, "label", row.Label.Prompt, row.Label.Completion, row.Label.Label);
    }

    private static Action<Utf8JsonWriter> Kto(string id, string source, IReadOnlyList<ConversationTurn> prompt, ConversationTurn completion, bool label) => w =>
    {
        w.WriteString("id", id);
        w.WriteString("source", source);
        Messages(w, "prompt", prompt);
        Messages(w, "completion", [completion]);
        w.WriteBoolean("label", label);
    };

    private static void Messages(Utf8JsonWriter w, string name, IReadOnlyList<ConversationTurn> messages)
    {
        w.WriteStartArray(name);
        foreach (var m in messages)
        {
            w.WriteStartObject();
            w.WriteString("role", m.Role);
            w.WriteString("content", m.Content);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>One JSON object per line, UTF-8, <c>\n</c> after each (the default encoder: escapes keep every line one line).</summary>
    private static async Task<long> JsonLinesAsync(Stream stream, IEnumerable<Action<Utf8JsonWriter>> lines, CancellationToken cancellationToken)
    {
        long count = 0;
        var writer = new Utf8JsonWriter(stream);
        await using (writer.ConfigureAwait(false))
        {
            foreach (var line in lines)
            {
                writer.WriteStartObject();
                line(writer);
                writer.WriteEndObject();
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                writer.Reset();
                stream.WriteByte((byte)'\n');
                count++;
            }
        }
        return count;
    }

    private static async Task<long> ParquetAsync(Stream stream, SnapshotRows rows, CancellationToken cancellationToken)
    {
        var table = rows.Pairs.Select(ExportPairRow.From).ToList();
        await ParquetSerializer.SerializeAsync(table, stream, DatasetStore.Options, cancellationToken: cancellationToken).ConfigureAwait(false);
        return table.Count;
    }
}
