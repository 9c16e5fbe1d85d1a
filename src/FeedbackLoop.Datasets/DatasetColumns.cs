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

    public static async Task WritePairsAsync(Stream stream, IReadOnlyList<PreferencePair> rows, CancellationToken cancellationToken)
    {
        var f = PairSchema.DataFields;
        var writer = await ParquetWriter.CreateAsync(PairSchema, stream, DatasetStore.Options, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var disposeWriter = writer.ConfigureAwait(false);
        using var group = writer.CreateRowGroup();
        var column = new Columns(group, rows.Count, cancellationToken);
        await column.TextAsync(f[0], rows, r => r.PairId).ConfigureAwait(false);
        await column.TextAsync(f[1], rows, r => r.AppId).ConfigureAwait(false);
        await column.MessagesAsync(f[2], f[3], rows, r => r.Prompt).ConfigureAwait(false);
        await column.MessageAsync(f[4], f[5], rows, r => r.Chosen).ConfigureAwait(false);
        await column.MessageAsync(f[6], f[7], rows, r => r.Rejected).ConfigureAwait(false);
        await column.TextAsync(f[8], rows, r => r.Signal).ConfigureAwait(false);
        await column.ValuesAsync(f[9], rows, r => r.Weight).ConfigureAwait(false);
        await column.TextAsync(f[10], rows, r => r.ChosenGenerationId).ConfigureAwait(false);
        await column.TextAsync(f[11], rows, r => r.RejectedGenerationId).ConfigureAwait(false);
        await column.TextAsync(f[12], rows, r => r.ChosenModelVersion).ConfigureAwait(false);
        await column.TextAsync(f[13], rows, r => r.RejectedModelVersion).ConfigureAwait(false);
        await column.TextAsync(f[14], rows, r => r.SessionId).ConfigureAwait(false);
        await column.TextAsync(f[15], rows, r => r.UserId).ConfigureAwait(false);
        await column.ValuesAsync(f[16], rows, r => PreferencePairRow.Microseconds(r.CreatedAt)).ConfigureAwait(false);
    }

    public static async Task WriteLabelsAsync(Stream stream, IReadOnlyList<FeedbackLabel> rows, CancellationToken cancellationToken)
    {
        var f = LabelSchema.DataFields;
        var writer = await ParquetWriter.CreateAsync(LabelSchema, stream, DatasetStore.Options, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var disposeWriter = writer.ConfigureAwait(false);
        using var group = writer.CreateRowGroup();
        var column = new Columns(group, rows.Count, cancellationToken);
        await column.TextAsync(f[0], rows, r => r.LabelId).ConfigureAwait(false);
        await column.TextAsync(f[1], rows, r => r.AppId).ConfigureAwait(false);
        await column.MessagesAsync(f[2], f[3], rows, r => r.Prompt).ConfigureAwait(false);
        await column.MessageAsync(f[4], f[5], rows, r => r.Completion).ConfigureAwait(false);
        await column.ValuesAsync(f[6], rows, r => r.Label).ConfigureAwait(false);
        await column.TextAsync(f[7], rows, r => r.GenerationId).ConfigureAwait(false);
        await column.TextAsync(f[8], rows, r => r.ModelVersion).ConfigureAwait(false);
        await column.TextAsync(f[9], rows, r => r.SessionId).ConfigureAwait(false);
        await column.TextAsync(f[10], rows, r => r.UserId).ConfigureAwait(false);
        await column.ValuesAsync(f[11], rows, r => PreferencePairRow.Microseconds(r.CreatedAt)).ConfigureAwait(false);
    }

    public static async Task WriteWindowsAsync(Stream stream, IReadOnlyList<EngagementWindow> rows, CancellationToken cancellationToken)
    {
        var f = WindowSchema.DataFields;
        var writer = await ParquetWriter.CreateAsync(WindowSchema, stream, DatasetStore.Options, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var disposeWriter = writer.ConfigureAwait(false);
        using var group = writer.CreateRowGroup();
        var column = new Columns(group, rows.Count, cancellationToken);
        await column.TextAsync(f[0], rows, r => r.WindowId).ConfigureAwait(false);
        await column.TextAsync(f[1], rows, r => r.AppId).ConfigureAwait(false);
        await column.TextAsync(f[2], rows, r => r.ModelVersion).ConfigureAwait(false);
        await column.TextAsync(f[3], rows, r => r.Variant).ConfigureAwait(false);
        await column.ValuesAsync(f[4], rows, r => r.WindowStart.UtcDateTime).ConfigureAwait(false);
        await column.ValuesAsync(f[5], rows, r => r.WindowEnd.UtcDateTime).ConfigureAwait(false);
        await column.ValuesAsync(f[6], rows, r => r.Shown).ConfigureAwait(false);
        await column.ValuesAsync(f[7], rows, r => r.ThumbsUp).ConfigureAwait(false);
        await column.ValuesAsync(f[8], rows, r => r.ThumbsDown).ConfigureAwait(false);
        await column.ValuesAsync(f[9], rows, r => r.Regenerated).ConfigureAwait(false);
        await column.ValuesAsync(f[10], rows, r => r.Edited).ConfigureAwait(false);
        await column.ValuesAsync(f[11], rows, r => r.Copied).ConfigureAwait(false);
        await column.ValuesAsync(f[12], rows, r => r.Accepted).ConfigureAwait(false);
        await column.ValuesAsync(f[13], rows, r => r.Rejected).ConfigureAwait(false);
        await column.ValuesAsync(f[14], rows, r => r.ComparisonsWon).ConfigureAwait(false);
        await column.ValuesAsync(f[15], rows, r => r.ComparisonsLost).ConfigureAwait(false);
        await column.ValuesAsync(f[16], rows, r => r.DwellSamples).ConfigureAwait(false);
        await column.OptionalAsync(f[17], rows, r => r.DwellP50Ms).ConfigureAwait(false);
        await column.OptionalAsync(f[18], rows, r => r.DwellP90Ms).ConfigureAwait(false);
        await column.OptionalAsync(f[19], rows, r => r.DwellP99Ms).ConfigureAwait(false);
        await column.ValuesAsync(f[20], rows, r => r.Partition).ConfigureAwait(false);
    }

    /// <summary>One row group's columns, each built in a pooled array that goes back to the pool once written.</summary>
    private sealed class Columns(ParquetRowGroupWriter group, int rows, CancellationToken cancellationToken)
    {
        public async Task TextAsync<TRecord>(DataField field, IReadOnlyList<TRecord> records, Func<TRecord, string> value)
        {
            var values = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(rows);
            try
            {
                for (var i = 0; i < rows; i++) values[i] = value(records[i]).AsMemory();
                await group.WriteAllPartsAsync<ReadOnlyMemory<char>>(field, values.AsMemory(0, rows), null, null, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<ReadOnlyMemory<char>>.Shared.Return(values, clearArray: true);
            }
        }

        public async Task ValuesAsync<TRecord, T>(DataField field, IReadOnlyList<TRecord> records, Func<TRecord, T> value) where T : struct
        {
            var values = ArrayPool<T>.Shared.Rent(rows);
            try
            {
                for (var i = 0; i < rows; i++) values[i] = value(records[i]);
                await group.WriteAsync<T>(field, values.AsMemory(0, rows), null, null, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(values);
            }
        }

        public async Task OptionalAsync<TRecord>(DataField field, IReadOnlyList<TRecord> records, Func<TRecord, double?> value)
        {
            var values = ArrayPool<double?>.Shared.Rent(rows);
            try
            {
                for (var i = 0; i < rows; i++) values[i] = value(records[i]);
                await group.WriteAsync<double>(field, values.AsMemory(0, rows), null, null, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<double?>.Shared.Return(values);
            }
        }

        /// <summary>A list&lt;struct&lt;role, content&gt;&gt; column of exactly one message per row.</summary>
        public async Task MessageAsync<TRecord>(DataField roleField, DataField contentField, IReadOnlyList<TRecord> records, Func<TRecord, ConversationTurn> message)
        {
            var roles = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(rows);
            var contents = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(rows);
            var definitions = ArrayPool<int>.Shared.Rent(rows);
            var repetitions = ArrayPool<int>.Shared.Rent(rows);
            try
            {
                for (var i = 0; i < rows; i++)
                {
                    var turn = message(records[i]);
                    roles[i] = turn.Role.AsMemory();
                    contents[i] = turn.Content.AsMemory();
                }
                Array.Fill(definitions, ElementDefined, 0, rows);
                Array.Clear(repetitions, 0, rows);
                await group.WriteAllPartsAsync<ReadOnlyMemory<char>>(roleField, roles.AsMemory(0, rows), definitions.AsMemory(0, rows), repetitions.AsMemory(0, rows), cancellationToken).ConfigureAwait(false);
                await group.WriteAllPartsAsync<ReadOnlyMemory<char>>(contentField, contents.AsMemory(0, rows), definitions.AsMemory(0, rows), repetitions.AsMemory(0, rows), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<ReadOnlyMemory<char>>.Shared.Return(roles, clearArray: true);
                ArrayPool<ReadOnlyMemory<char>>.Shared.Return(contents, clearArray: true);
                ArrayPool<int>.Shared.Return(definitions);
                ArrayPool<int>.Shared.Return(repetitions);
            }
        }

        /// <summary>A list&lt;struct&lt;role, content&gt;&gt; column: its two leaves share one set of levels.</summary>
        public async Task MessagesAsync<TRecord>(DataField roleField, DataField contentField, IReadOnlyList<TRecord> records, Func<TRecord, IReadOnlyList<ConversationTurn>> messages)
        {
            var entries = 0;
            var elements = 0;
            for (var i = 0; i < rows; i++)
            {
                var count = messages(records[i]).Count;
                entries += Math.Max(count, 1);
                elements += count;
            }
            var roles = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(elements);
            var contents = ArrayPool<ReadOnlyMemory<char>>.Shared.Rent(elements);
            var definitions = ArrayPool<int>.Shared.Rent(entries);
            var repetitions = ArrayPool<int>.Shared.Rent(entries);
            try
            {
                var entry = 0;
                var element = 0;
                for (var i = 0; i < rows; i++)
                {
                    var list = messages(records[i]);
                    if (list.Count == 0)
                    {
                        definitions[entry] = EmptyList;
                        repetitions[entry++] = 0;
                        continue;
                    }
                    for (var m = 0; m < list.Count; m++)
                    {
                        roles[element] = list[m].Role.AsMemory();
                        contents[element++] = list[m].Content.AsMemory();
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
