using FeedbackLoop.Contracts;

namespace FeedbackLoop.Sdk.Transports;

/// <summary>
/// How one batch is cut into collector requests: each request body is a JSON array of the events' own
/// bytes, at most <see cref="EventLimits.MaxBatchBytes"/> uncompressed (the collector answers 413 above).
/// </summary>
/// <param name="Requests">Batch positions per request, in batch order.</param>
/// <param name="Unsendable">
/// Positions of events that are empty or over <see cref="EventLimits.MaxEventBytes"/>: the collector would
/// refuse the whole request that carried them, so they are refused here and never sent.
/// </param>
internal sealed record CollectorBatches(IReadOnlyList<int[]> Requests, IReadOnlyList<int> Unsendable)
{
    /// <summary>Cuts <paramref name="batch"/> into requests in order, filling each up to <paramref name="maxBodyBytes"/>.</summary>
    public static CollectorBatches Plan(IReadOnlyList<SerializedEvent> batch, int maxBodyBytes = EventLimits.MaxBatchBytes)
    {
        var requests = new List<int[]>();
        var unsendable = new List<int>();
        var current = new List<int>();
        var bodyBytes = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var length = batch[i].Json.Length;
            if (length == 0 || length > EventLimits.MaxEventBytes || length + 2 > maxBodyBytes)
            {
                unsendable.Add(i);
                continue;
            }
            // '[' and ']' around the first event, one ',' before each further one.
            var added = current.Count == 0 ? length + 2 : length + 1;
            if (current.Count > 0 && bodyBytes + added > maxBodyBytes)
            {
                requests.Add([.. current]);
                current.Clear();
                bodyBytes = 0;
                added = length + 2;
            }
            current.Add(i);
            bodyBytes += added;
        }
        if (current.Count > 0) requests.Add([.. current]);
        return new CollectorBatches(requests, unsendable);
    }

    /// <summary>The uncompressed body of one request: <c>[e1,e2,…]</c> from the events' bytes, never re-serialized.</summary>
    public static int BodyLength(IReadOnlyList<SerializedEvent> batch, int[] positions)
    {
        var length = 1 + positions.Length;
        foreach (var p in positions) length += batch[p].Json.Length;
        return length;
    }

    /// <summary>Writes the body of one request into <paramref name="output"/>.</summary>
    public static void WriteBody(Stream output, IReadOnlyList<SerializedEvent> batch, int[] positions)
    {
        output.WriteByte((byte)'[');
        for (var i = 0; i < positions.Length; i++)
        {
            if (i > 0) output.WriteByte((byte)',');
            output.Write(batch[positions[i]].Json.Span);
        }
        output.WriteByte((byte)']');
    }
}
