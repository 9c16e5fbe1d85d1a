using System.Buffers;
using FeedbackLoop.Contracts;
using FeedbackLoop.Contracts.Datasets;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace FeedbackLoop.Datasets;

/// <summary>
/// Writes dataset files column by column: each column's values go straight from the records into pooled arrays and
/// then to Parquet.Net's column writer. The schema is the one <see cref="ParquetSerializer"/> derives from the row
/// classes in ParquetRows.cs (read back with them), so the files are the same as the serializer's, at about a third of
/// its CPU and allocation per row (measured in docs/BENCHMARKS.md, "Where the time went"): the serializer builds a
/// row object and a list of message objects per row, then shreds them through compiled expressions.
/// </summary>
internal static class DatasetColumns
{
    private static readonly ParquetSchema PairSchema = typeof(PreferencePairRow).GetParquetSchema(forWriting: true);
    private static readonly ParquetSchema LabelSchema = typeof(FeedbackLabelRow).GetParquetSchema(forWriting: true);
    private static readonly ParquetSchema WindowSchema = typeof(EngagementRow).GetParquetSchema(forWriting: true);

    // Definition levels of a list<struct<role, content>> leaf whose list is present: an element (all three levels
    // defined), or none at all (the list itself defined, empty). Repetition: 0 starts a row, 1 continues its list.
    private const int ElementDefined = 3;
    private const int EmptyList = 1;

    public static Task WritePairsAsync(Stream stream, IReadOnlyList<PreferencePair> rows, CancellationToken cancellationToken) =>
        WriteAsync(stream, PairSchema, rows, async (column, f) =>
        {
            await column.TextAsync(f[0], r => r.PairId).ConfigureAwait(false);
            await column.TextAsync(f[1], r => r.AppId).ConfigureAwait(false);
            await column.MessagesAsync(f[2], f[3], r => r.Prompt.Count, (r, m) => r.Prompt[m]).ConfigureAwait(false);
            await column.MessagesAsync(f[4], f[5], _ => 1, (r, _) => r.Chosen).ConfigureAwait(false);
            await column.MessagesAsync(f[6], f[7], _ => 1, (r, _) => r.Rejected).ConfigureAwait(false);
            await column.TextAsync(f[8], r => r.Signal).ConfigureAwait(false);
            await column.ValuesAsync(f[9], r => r.Weight).ConfigureAwait(false);
            await column.TextAsync(f[10], r => r.ChosenGenerationId).ConfigureAwait(false);
            await column.TextAsync(f[11], r => r.RejectedGenerationId).ConfigureAwait(false);
            await column.TextAsync(f[12], r => r.ChosenModelVersion).ConfigureAwait(false);
            await column.TextAsync(f[13], r => r.RejectedModelVersion).ConfigureAwait(false);
            await column.TextAsync(f[14], r => r.SessionId).ConfigureAwait(false);
            await column.TextAsync(f[15], r => r.UserId).ConfigureAwait(false);
            await column.ValuesAsync(f[16], r => PreferencePairRow.Microseconds(r.CreatedAt)).ConfigureAwait(false);
        }, cancellationToken);

    public static Task WriteLabelsAsync(Stream stream, IReadOnlyList<FeedbackLabel> rows, CancellationToken cancellationToken) =>
        WriteAsync(stream, LabelSchema, rows, async (column, f) =>
        {
            await column.TextAsync(f[0], r => r.LabelId).ConfigureAwait(false);
            await column.TextAsync(f[1], r => r.AppId).ConfigureAwait(false);
            await column.MessagesAsync(f[2], f[3], r => r.Prompt.Count, (r, m) => r.Prompt[m]).ConfigureAwait(false);
            await column.MessagesAsync(f[4], f[5], _ => 1, (r, _) => r.Completion).ConfigureAwait(false);
            await column.ValuesAsync(f[6], r => r.Label).ConfigureAwait(false);
            await column.TextAsync(f[7], r => r.GenerationId).ConfigureAwait(false);
            await column.TextAsync(f[8], r => r.ModelVersion).ConfigureAwait(false);
            await column.TextAsync(f[9], r => r.SessionId).ConfigureAwait(false);
            await column.TextAsync(f[10], r => r.UserId).ConfigureAwait(false);
            await column.ValuesAsync(f[11], r => PreferencePairRow.Microseconds(r.CreatedAt)).ConfigureAwait(false);
        }, cancellationToken);

    public static Task WriteWindowsAsync(Stream stream, IReadOnlyList<EngagementWindow> rows, CancellationToken cancellationToken) =>
        WriteAsync(stream, WindowSchema, rows, async (column, f) =>
        {
            await column.TextAsync(f[0], r => r.WindowId).ConfigureAwait(false);
            await column.TextAsync(f[1], r => r.AppId).ConfigureAwait(false);
            await column.TextAsync(f[2], r => r.ModelVersion).ConfigureAwait(false);
            await column.TextAsync(f[3], r => r.Variant).ConfigureAwait(false);
            await column.ValuesAsync(f[4], r => r.WindowStart.UtcDateTime).ConfigureAwait(false);
            await column.ValuesAsync(f[5], r => r.WindowEnd.UtcDateTime).ConfigureAwait(false);
            await column.ValuesAsync(f[6], r => r.Shown).ConfigureAwait(false);
            await column.ValuesAsync(f[7], r => r.ThumbsUp).ConfigureAwait(false);
            await column.ValuesAsync(f[8], r => r.ThumbsDown).ConfigureAwait(false);
            await column.ValuesAsync(f[9], r => r.Regenerated).ConfigureAwait(false);
            await column.ValuesAsync(f[10], r => r.Edited).ConfigureAwait(false);
            await column.ValuesAsync(f[11], r => r.Copied).ConfigureAwait(false);
            await column.ValuesAsync(f[12], r => r.Accepted).ConfigureAwait(false);
            await column.ValuesAsync(f[13], r => r.Rejected).ConfigureAwait(false);
            await column.ValuesAsync(f[14], r => r.ComparisonsWon).ConfigureAwait(false);
            await column.ValuesAsync(f[15], r => r.ComparisonsLost).ConfigureAwait(false);
            await column.ValuesAsync(f[16], r => r.DwellSamples).ConfigureAwait(false);
            await column.OptionalAsync(f[17], r => r.DwellP50Ms).ConfigureAwait(false);
            await column.OptionalAsync(f[18], r => r.DwellP90Ms).ConfigureAwait(false);
            await column.OptionalAsync(f[19], r => r.DwellP99Ms).ConfigureAwait(false);
            await column.ValuesAsync(f[20], r => r.Partition).ConfigureAwait(false);
        }, cancellationToken);

    /// <summary>One file of one row group: the writer and group are closed (footer written) once every column was.</summary>
    private static async Task WriteAsync<TRecord>(
        Stream stream, ParquetSchema schema, IReadOnlyList<TRecord> rows, Func<Columns<TRecord>, DataField[], Task> columns, CancellationToken cancellationToken)
    {
        var writer = await ParquetWriter.CreateAsync(schema, stream, DatasetStore.Options, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var disposeWriter = writer.ConfigureAwait(false);
        using var group = writer.CreateRowGroup();
        await columns(new Columns<TRecord>(group, rows, cancellationToken), schema.DataFields).ConfigureAwait(false);
    }

    /// <summary>One row group's columns, each built in a pooled array that goes back to the pool once written.</summary>
    private sealed class Columns<TRecord>(ParquetRowGroupWriter group, IReadOnlyList<TRecord> records, CancellationToken cancellationToken)
    {
        private readonly int _rows = records.Count;

        public async Task TextAsync(DataField field, Func<TRecord, string> value)
        {
            var values = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(_rows);
            try
            {
                for (var i = 0; i < _rows; i++) values[i] = value(records[i]).AsMemory();
                await group.WriteAllPartsAsync<ReadOnlyMemory<char>>(field, values.AsMemory(0, _rows), null, null, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<ReadOnlyMemory<char>>.Shared.Return(values, clearArray: true);
            }
        }

        public async Task ValuesAsync<T>(DataField field, Func<TRecord, T> value) where T : struct
        {
            var values = ArrayPool<T>.Shared.Rent(_rows);
            try
            {
                for (var i = 0; i < _rows; i++) values[i] = value(records[i]);
                await group.WriteAsync<T>(field, values.AsMemory(0, _rows), null, null, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(values);
            }
        }

        public async Task OptionalAsync(DataField field, Func<TRecord, double?> value)
        {
            var values = ArrayPool<double?>.Shared.Rent(_rows);
            try
            {
                for (var i = 0; i < _rows; i++) values[i] = value(records[i]);
                await group.WriteAsync<double>(field, values.AsMemory(0, _rows), null, null, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<double?>.Shared.Return(values);
            }
        }

        /// <summary>
        /// A list&lt;struct&lt;role, content&gt;&gt; column of <paramref name="count"/> messages per row: its two leaves share one
        /// set of levels. An empty list is one entry with no value (the list defined, no element).
        /// </summary>
        public async Task MessagesAsync(DataField roleField, DataField contentField, Func<TRecord, int> count, Func<TRecord, int, ConversationTurn> message)
        {
            var entries = 0;
            var elements = 0;
            for (var i = 0; i < _rows; i++)
            {
                var n = count(records[i]);
                entries += Math.Max(n, 1);
                elements += n;
            }
            var roles = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(elements);
            var contents = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(elements);
            var definitions = ArrayPool<int>.Shared.Rent(entries);
            var repetitions = ArrayPool<int>.Shared.Rent(entries);
            try
            {
                var entry = 0;
                var element = 0;
                for (var i = 0; i < _rows; i++)
                {
                    var n = count(records[i]);
                    if (n == 0)
                    {
                        definitions[entry] = EmptyList;
                        repetitions[entry++] = 0;
                        continue;
                    }
                    for (var m = 0; m < n; m++)
                    {
                        var turn = message(records[i], m);
                        roles[element] = turn.Role.AsMemory();
                        contents[element++] = turn.Content.AsMemory();
                        definitions[entry] = ElementDefined;
                        repetitions[entry++] = m == 0 ? 0 : 1;
                    }
                }
                var levels = (Definitions: definitions.AsMemory(0, entries), Repetitions: repetitions.AsMemory(0, entries));
                await group.WriteAllPartsAsync<ReadOnlyMemory<char>>(roleField, roles.AsMemory(0, elements), levels.Definitions, levels.Repetitions, cancellationToken).ConfigureAwait(false);
                await group.WriteAllPartsAsync<ReadOnlyMemory<char>>(contentField, contents.AsMemory(0, elements), levels.Definitions, levels.Repetitions, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<ReadOnlyMemory<char>>.Shared.Return(roles, clearArray: true);
                ArrayPool<ReadOnlyMemory<char>>.Shared.Return(contents, clearArray: true);
                ArrayPool<int>.Shared.Return(definitions);
                ArrayPool<int>.Shared.Return(repetitions);
            }
        }
    }
}
