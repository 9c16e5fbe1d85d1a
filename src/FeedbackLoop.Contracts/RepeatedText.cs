using System.Text.Json;

namespace FeedbackLoop.Contracts;

/// <summary>
/// One string per distinct value of the fields that repeat from event to event (an app id, a model version, a variant, a
/// prompt version, a message's role), so the parser does not allocate a new copy of the same few values for every event.
/// Beyond the allocation, the copies it saves are the ones that live long: open sessions and pending rows hold a model
/// version, a variant and roles for every generation shown, and each copy was carried through every garbage collection
/// until its session resolved (docs/BENCHMARKS.md, "Fewer copies of repeated text").
/// </summary>
/// <remarks>
/// A fixed table of recently seen values, shared by every parsing thread: an entry is immutable and replaced whole, so a
/// reader sees either the old or the new one. Values that do not repeat (or a sender who varies them on purpose) only
/// replace entries: the table never grows, and each miss costs one extra copy of at most <see cref="MaxBytes"/> bytes.
/// Escaped values are not looked up: <see cref="Utf8JsonReader.GetString"/> unescapes and validates them as before.
/// </remarks>
internal static class RepeatedText
{
    /// <summary>Longer values are read as they always were: the fields this serves are short, and a long value is rarely repeated.</summary>
    public const int MaxBytes = 64;

    private const int Slots = 512; // a power of two

    private static readonly Entry?[] Entries = new Entry?[Slots];

    /// <summary>The string value at the reader (a string token), the same instance as for earlier equal values where possible.</summary>
    public static string Read(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence || reader.ValueSpan.Length > MaxBytes) return reader.GetString()!;
        var utf8 = reader.ValueSpan;
        var hash = new HashCode();
        hash.AddBytes(utf8);
        var slot = hash.ToHashCode() & (Slots - 1);
        var entry = Volatile.Read(ref Entries[slot]);
        if (entry is not null && utf8.SequenceEqual(entry.Utf8)) return entry.Text;
        // GetString validates the UTF-8 (throws on invalid bytes): only text it accepted is ever stored for reuse.
        var text = reader.GetString()!;
        Volatile.Write(ref Entries[slot], new Entry(utf8.ToArray(), text));
        return text;
    }

    private sealed class Entry(byte[] utf8, string text)
    {
        public byte[] Utf8 { get; } = utf8;
        public string Text { get; } = text;
    }
}
