using FeedbackLoop.Sdk.Spool;

namespace FeedbackLoop.Sdk.Tests.Spool;

/// <summary>
/// The spool's byte formats and backoff as pure functions: a record and a cursor read back as written,
/// and any single damaged byte is caught by a check rather than trusted.
/// </summary>
public sealed class SpoolFormatTests
{
    private static readonly SpoolKey Key = SpoolKey.FromSecret("format-test-secret-0123456789");
    private static readonly SpoolKey OtherKey = SpoolKey.FromSecret("another-secret-0123456789");

    [Fact]
    public void A_record_reads_back_as_the_event_that_was_written()
    {
        var evt = new SerializedEvent("01890a5d-ac96-774b-bcce-b302099a8057", "sessión-7", "{\"type\":\"feedback.thumb\"}"u8.ToArray());
        var record = Encode(evt);

        Assert.True(SpoolRecord.TryReadHeader(record, out var header));
        Assert.Equal(record.Length, header.RecordBytes);
        Assert.True(SpoolRecord.PayloadIntact(header, record));
        Assert.True(SpoolRecord.Authentic(record, Key));
        var back = SpoolRecord.Decode(header, record);
        Assert.Equal(evt.EventId, back.EventId);
        Assert.Equal(evt.SessionId, back.SessionId);
        Assert.Equal(evt.Json.ToArray(), back.Json.ToArray());
    }

    [Fact]
    public void Any_damaged_header_byte_makes_the_header_unreadable()
    {
        var record = Encode(ScriptedTransport.Event(1));
        for (var i = 0; i < SpoolRecord.HeaderSize; i++)
        {
            var damaged = (byte[])record.Clone();
            damaged[i] ^= 0x01;
            Assert.False(SpoolRecord.TryReadHeader(damaged, out _), $"header byte {i}");
        }
    }

    [Fact]
    public void Any_damaged_payload_byte_fails_the_payload_check_while_the_header_still_reads()
    {
        var record = Encode(ScriptedTransport.Event(1));
        for (var i = SpoolRecord.HeaderSize; i < record.Length - SpoolRecord.TrailerSize; i++)
        {
            var damaged = (byte[])record.Clone();
            damaged[i] ^= 0x80;
            Assert.True(SpoolRecord.TryReadHeader(damaged, out var header));
            Assert.False(SpoolRecord.PayloadIntact(header, damaged), $"payload byte {i}");
        }
    }

    [Fact]
    public void Any_altered_byte_fails_the_MAC_even_when_the_checksums_are_fixed_up()
    {
        var record = Encode(ScriptedTransport.Event(1));
        for (var i = 0; i < record.Length; i++)
        {
            if (i is >= 16 and < 24) continue; // the CRCs themselves: fixing them up restores the original
            var altered = (byte[])record.Clone();
            altered[i] ^= 0x01;
            if (i < record.Length - SpoolRecord.TrailerSize) FixChecksums(altered);
            Assert.False(SpoolRecord.Authentic(altered, Key), $"record byte {i}");
        }
    }

    [Fact]
    public void A_record_signed_with_another_key_or_not_signed_fails_the_MAC_while_its_checksums_pass()
    {
        var evt = ScriptedTransport.Event(1);
        var foreign = Encode(evt, OtherKey);
        var unsigned = Encode(evt);
        unsigned.AsSpan(unsigned.Length - SpoolRecord.TrailerSize).Clear();

        foreach (var record in new[] { foreign, unsigned })
        {
            Assert.True(SpoolRecord.TryReadHeader(record, out var header));
            Assert.True(SpoolRecord.PayloadIntact(header, record));
            Assert.False(SpoolRecord.Authentic(record, Key));
        }
    }

    [Fact]
    public void An_event_with_ids_beyond_the_format_is_not_measured_as_a_record()
    {
        Assert.False(SpoolRecord.TryMeasure(new SerializedEvent(new string('e', 70_000), "s", "{}"u8.ToArray()), out _));
        Assert.False(SpoolRecord.TryMeasure(new SerializedEvent("e", new string('s', 70_000), "{}"u8.ToArray()), out _));
        Assert.True(SpoolRecord.TryMeasure(new SerializedEvent("e", "s", "{}"u8.ToArray()), out var size));
        Assert.Equal(SpoolRecord.HeaderSize + 4 + SpoolRecord.TrailerSize, size);
    }

    [Fact]
    public void A_cursor_reads_back_as_written_and_any_damage_or_truncation_is_refused()
    {
        var cursor = new SpoolCursor(7, 4_096, [4_192, 4_384]);
        var bytes = cursor.Encode(Key);

        Assert.True(SpoolCursor.TryDecode(bytes, Key, out var back));
        Assert.Equal((7L, 4_096L), (back.Segment, back.Offset));
        Assert.Equal(cursor.AckedAhead, back.AckedAhead);
        for (var i = 0; i < bytes.Length; i++)
        {
            var damaged = (byte[])bytes.Clone();
            damaged[i] ^= 0x10;
            Assert.False(SpoolCursor.TryDecode(damaged, Key, out _), $"cursor byte {i}");
        }
        Assert.False(SpoolCursor.TryDecode(bytes.AsSpan(0, bytes.Length - 1), Key, out _));
        Assert.False(SpoolCursor.TryDecode([], Key, out _));
        // A cursor someone else wrote cannot make the spool skip records.
        Assert.False(SpoolCursor.TryDecode(cursor.Encode(OtherKey), Key, out _));
    }

    [Theory]
    [InlineData(0, null, 0.0, 250)]        // half of the first 500 ms step
    [InlineData(0, null, 0.999, 500)]      // up to the whole step
    [InlineData(3, null, 0.0, 2_000)]      // 4 s step
    [InlineData(10, null, 0.999, 29_985)]  // capped at 30 s before the jitter
    [InlineData(100, null, 0.5, 22_500)]   // no overflow far out
    [InlineData(0, 5_000, 0.0, 5_000)]     // at least what Retry-After asked
    [InlineData(0, 120_000, 0.0, 30_000)]  // within the cap
    public void The_backoff_grows_exponentially_with_jitter_honours_retry_after_and_is_capped(int attempt, int? retryAfterMs, double jitter, int expectedMs)
    {
        var retryAfter = retryAfterMs is { } ms ? TimeSpan.FromMilliseconds(ms) : (TimeSpan?)null;

        var delay = SpoolBackoff.Delay(attempt, retryAfter, jitter);

        Assert.Equal(expectedMs, delay.TotalMilliseconds, precision: 0);
    }

    private static byte[] Encode(SerializedEvent evt, SpoolKey? key = null)
    {
        Assert.True(SpoolRecord.TryMeasure(evt, out var size));
        var record = new byte[size];
        SpoolRecord.Write(record, evt, key ?? Key);
        return record;
    }

    // What a forger does after changing a byte: recompute both CRCs, so only the MAC can tell.
    internal static void FixChecksums(byte[] record)
    {
        var payloadBytes = record.Length - SpoolRecord.HeaderSize - SpoolRecord.TrailerSize;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(16), System.IO.Hashing.Crc32.HashToUInt32(record.AsSpan(SpoolRecord.HeaderSize, payloadBytes)));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(20), System.IO.Hashing.Crc32.HashToUInt32(record.AsSpan(0, 20)));
    }
}
