using System.Diagnostics;
using Confluent.Kafka;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Kafka.Extraction;

/// <summary>
/// The trace contexts of one batch's records, for the span of the commit that makes the batch durable: the
/// first traced record's context becomes its parent, the other distinct contexts its links, up to
/// <see cref="ExtractionTelemetry.MaxCommitLinks"/>. Headers are validated on the consume thread without
/// allocating; only the values kept (at most 33 per batch) are turned into contexts, when the span starts.
/// </summary>
internal sealed class CommitTraceBatch
{
    // The header values kept: [0] the parent, then the links. They are the consumed records' own arrays,
    // which nothing writes to after the record was read.
    private readonly List<byte[]> _kept = [];
    private int _dropped;
    private int _traced;

    /// <summary>What one record's headers said about its trace.</summary>
    public enum Outcome
    {
        /// <summary>No <c>traceparent</c> header.</summary>
        None,
        /// <summary>A well-formed one, kept or counted.</summary>
        Traced,
        /// <summary>Present but malformed, or more than one: ignored.</summary>
        Invalid,
    }

    /// <summary>Offers one record's headers (written by whoever produced the record, so never trusted).</summary>
    public Outcome Offer(Headers? headers)
    {
        if (headers is null || headers.Count == 0) return Outcome.None;
        byte[]? value = null;
        // By index: enumerating Headers would box an enumerator for every record.
        for (var i = 0; i < headers.Count; i++)
        {
            var header = headers[i];
            if (!string.Equals(header.Key, TraceParent.HeaderName, StringComparison.Ordinal)) continue;
            // Two parents for one record is no parent: W3C gives no way to choose.
            if (value is not null) return Outcome.Invalid;
            value = header.GetValueBytes() ?? [];
        }
        if (value is null) return Outcome.None;
        if (!TraceParent.IsValid(value)) return Outcome.Invalid;

        _traced++;
        if (IsKept(value)) return Outcome.Traced;
        if (_kept.Count <= ExtractionTelemetry.MaxCommitLinks) _kept.Add(value);
        else _dropped++;
        return Outcome.Traced;
    }

    /// <summary>Hands over what was collected and starts an empty batch.</summary>
    public CommitTrace Take()
    {
        ActivityContext parent = default;
        List<ActivityLink>? links = null;
        for (var i = 0; i < _kept.Count; i++)
        {
            // Validated when offered, so the parse cannot fail here.
            if (!TraceParent.TryParse(_kept[i], out var context)) continue;
            if (i == 0)
            {
                parent = context;
            }
            else
            {
                links ??= new List<ActivityLink>(_kept.Count - 1);
                links.Add(new ActivityLink(context));
            }
        }
        var trace = new CommitTrace(parent, links, _traced, _dropped);
        _kept.Clear();
        _traced = 0;
        _dropped = 0;
        return trace;
    }

    /// <summary>
    /// Whether a record with the same trace id and parent id was already kept. Records of one request share
    /// their span, so without this the links would fill with copies. The newest is checked first (the common
    /// case is a run of records from one span).
    /// </summary>
    private bool IsKept(byte[] value)
    {
        var ids = value.AsSpan(3, 49);
        for (var i = _kept.Count - 1; i >= 0; i--)
        {
            if (_kept[i].AsSpan(3, 49).SequenceEqual(ids)) return true;
        }
        return false;
    }
}

/// <summary>The trace contexts of one batch.</summary>
/// <param name="Parent">The first traced record's context; <c>default</c> when no record was traced.</param>
/// <param name="Links">The other distinct contexts, at most <see cref="ExtractionTelemetry.MaxCommitLinks"/>; null for none.</param>
/// <param name="Traced">Records with a well-formed <c>traceparent</c>.</param>
/// <param name="LinksDropped">Traced records with a context not yet kept, once the links were full.</param>
internal sealed record CommitTrace(ActivityContext Parent, List<ActivityLink>? Links, int Traced, int LinksDropped)
{
    public bool HasParent => Parent.TraceId != default;
}
