using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using FeedbackLoop.Contracts;
using FeedbackLoop.Datasets.Snapshots;

namespace FeedbackLoop.Datasets.Export;

/// <summary>
/// The parquet export's columns as an Arrow IPC file: messages as <c>list&lt;struct&lt;role, content&gt;&gt;</c>,
/// <c>created_at</c> as <c>timestamp[us, UTC]</c>, <c>original_chosen</c> the only nullable column.
/// </summary>
internal static class ArrowExport
{
    private static readonly StructType MessageType = new([new Field("role", StringType.Default, false), new Field("content", StringType.Default, false)]);
    private static readonly ListType MessagesType = new(new Field("element", MessageType, false));
    private static readonly TimestampType Microseconds = new(TimeUnit.Microsecond, "UTC");

    public static readonly Schema Schema = new(
    [
        Text("pair_id"), Text("app_id"), Messages("prompt"), Messages("chosen"), Messages("rejected"), Text("signal"),
        new Field("weight", DoubleType.Default, false), Text("chosen_generation_id"), Text("rejected_generation_id"),
        Text("chosen_model_version"), Text("rejected_model_version"), Text("session_id"), Text("user_id"),
        new Field("created_at", Microseconds, false), Text("review_action"), new Field("original_chosen", StringType.Default, true),
    ], null);

    public static async Task<long> WriteAsync(Stream stream, IReadOnlyList<ReviewedPair> pairs, int batchRows, CancellationToken cancellationToken)
    {
        var writer = new ArrowFileWriter(stream, Schema, leaveOpen: true);
        using (writer)
        {
            await writer.WriteStartAsync(cancellationToken).ConfigureAwait(false);
            for (var start = 0; start < pairs.Count; start += batchRows)
            {
                var batch = pairs.Skip(start).Take(batchRows).ToList();
                using var recordBatch = Batch(batch);
                await writer.WriteRecordBatchAsync(recordBatch, cancellationToken).ConfigureAwait(false);
            }
            await writer.WriteEndAsync(cancellationToken).ConfigureAwait(false);
        }
        return pairs.Count;
    }

    private static RecordBatch Batch(List<ReviewedPair> rows)
    {
        var p = rows.Select(r => r.Pair).ToList();
        IArrowArray[] columns =
        [
            Strings(p.Select(x => x.PairId)), Strings(p.Select(x => x.AppId)),
            MessageLists(p.Select(x => x.Prompt)), MessageLists(p.Select(x => (IReadOnlyList<ConversationTurn>)[x.Chosen])),
            MessageLists(p.Select(x => (IReadOnlyList<ConversationTurn>)[x.Rejected])), Strings(p.Select(x => x.Signal)),
            new DoubleArray.Builder().AppendRange(p.Select(x => x.Weight)).Build(),
            Strings(p.Select(x => x.ChosenGenerationId)), Strings(p.Select(x => x.RejectedGenerationId)),
            Strings(p.Select(x => x.ChosenModelVersion)), Strings(p.Select(x => x.RejectedModelVersion)),
            Strings(p.Select(x => x.SessionId)), Strings(p.Select(x => x.UserId)),
            Timestamps(p.Select(x => x.CreatedAt)), Strings(rows.Select(r => r.ReviewAction)), Strings(rows.Select(r => r.OriginalChosen)),
        ];
        return new RecordBatch(Schema, columns, rows.Count);
    }

    private static Field Text(string name) => new(name, StringType.Default, false);

    private static Field Messages(string name) => new(name, MessagesType, false);

    private static StringArray Strings(IEnumerable<string?> values)
    {
        var builder = new StringArray.Builder();
        foreach (var value in values)
        {
            if (value is null) builder.AppendNull();
            else builder.Append(value);
        }
        return builder.Build();
    }

    private static TimestampArray Timestamps(IEnumerable<DateTimeOffset> values)
    {
        var builder = new TimestampArray.Builder(Microseconds);
        foreach (var value in values) builder.Append(new DateTimeOffset(PreferencePairRow.Microseconds(value), TimeSpan.Zero));
        return builder.Build();
    }

    /// <summary>A list column: offsets into one struct array holding every row's messages in order.</summary>
    private static ListArray MessageLists(IEnumerable<IReadOnlyList<ConversationTurn>> rows)
    {
        var offsets = new ArrowBuffer.Builder<int>();
        var roles = new StringArray.Builder();
        var contents = new StringArray.Builder();
        var length = 0;
        var total = 0;
        offsets.Append(0);
        foreach (var messages in rows)
        {
            foreach (var m in messages)
            {
                roles.Append(m.Role);
                contents.Append(m.Content);
            }
            total += messages.Count;
            offsets.Append(total);
            length++;
        }
        var structs = new StructArray(MessageType, total, [roles.Build(), contents.Build()], ArrowBuffer.Empty);
        return new ListArray(MessagesType, length, offsets.Build(), structs, ArrowBuffer.Empty);
    }
}
