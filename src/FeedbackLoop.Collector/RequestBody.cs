using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using Microsoft.AspNetCore.Http;

namespace FeedbackLoop.Collector;

/// <summary>
/// A request body read into a pooled buffer, never past its limit, with its bytes reserved in <see cref="InFlightBytes"/>
/// as the buffer grows. Disposing returns the buffer and the reservation.
/// </summary>
internal sealed class RequestBody : IDisposable
{
    private const int FirstChunk = 16 * 1024;

    private readonly InFlightBytes _inFlight;
    private byte[] _buffer = [];
    private long _reserved;
    private ulong _gzipTrailer;

    private RequestBody(InFlightBytes inFlight) => _inFlight = inFlight;

    public int Length { get; private set; }

    public ReadOnlySpan<byte> Span => _buffer.AsSpan(0, Length);

    public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

    /// <summary>The wire body, at most <paramref name="limit"/> bytes; else the refusal code.</summary>
    public static async Task<(RequestBody? Body, string? Refusal)> ReadAsync(HttpRequest request, int limit, InFlightBytes inFlight, CancellationToken cancellationToken)
    {
        var body = new RequestBody(inFlight);
        try
        {
            var refusal = await body.FillAsync(request.Body, (int)Math.Min(request.ContentLength ?? FirstChunk, limit) + 1, limit, Refusals.BodyTooLarge, cancellationToken).ConfigureAwait(false);
            if (refusal is null) return (body, null);
            body.Dispose();
            return (null, refusal);
        }
        catch (BadHttpRequestException e)
        {
            body.Dispose();
            // Kestrel's own limits: the minimum body data rate (408) and its body size limit (413); anything else is a
            // body that broke off (fewer bytes than announced, bad chunking).
            return (null, e.StatusCode switch
            {
                StatusCodes.Status408RequestTimeout => Refusals.BodyTimeout,
                StatusCodes.Status413PayloadTooLarge => Refusals.BodyTooLarge,
                _ => Refusals.BodyIncomplete,
            });
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            body.Dispose();
            return (null, Refusals.BodyIncomplete);
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The gzip-decompressed body, at most <paramref name="limit"/> bytes: reading stops at the limit, so a bomb is never
    /// inflated past it; else the refusal code.
    /// </summary>
    public async Task<(RequestBody? Body, string? Refusal)> GunzipAsync(int limit, CancellationToken cancellationToken)
    {
        var inflated = new RequestBody(_inFlight);
        try
        {
            await using var gzip = new GZipStream(new MemoryStream(_buffer, 0, Length, writable: false), CompressionMode.Decompress);
            var refusal = await inflated.FillAsync(gzip, (int)Math.Min(Length * 4L + 1, limit + 1L), limit, Refusals.DecompressedTooLarge, cancellationToken).ConfigureAwait(false);
            if (Length >= 8) inflated._gzipTrailer = BinaryPrimitives.ReadUInt64LittleEndian(Span[^8..]);
            if (refusal is null) return (inflated, null);
            inflated.Dispose();
            return (null, refusal);
        }
        catch (InvalidDataException)
        {
            inflated.Dispose();
            return (null, Refusals.CorruptGzip);
        }
        catch
        {
            inflated.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether this inflated body matches the trailer its gzip body ended with (CRC-32 and length, RFC 1952). zlib checks
    /// the trailer of a stream that ends, but a body cut short simply stops: its last eight bytes are then compressed data,
    /// not a trailer of what was inflated. Asked only once the JSON failed, to tell a cut gzip body from bad JSON (a body of
    /// several gzip members, which is valid but unusual, ends with the last member's trailer and reads as cut here).
    /// </summary>
    public bool MatchesGzipTrailer()
    {
        var crc = (uint)_gzipTrailer;
        var size = (uint)(_gzipTrailer >> 32);
        return size == (uint)Length && crc == Crc32.HashToUInt32(Span);
    }

    // Reads until the end of the stream, growing the buffer (and the reservation) by doubling, up to limit + 1 bytes:
    // the one byte past the limit is how an over-long body is told from one exactly at it.
    private async Task<string?> FillAsync(Stream source, int first, int limit, string overLimit, CancellationToken cancellationToken)
    {
        if (!Grow(Math.Max(first, 1))) return Refusals.InFlightFull;
        while (true)
        {
            if (Length == _buffer.Length)
            {
                if (Length > limit) return overLimit;
                if (!Grow((int)Math.Min((long)_buffer.Length * 2, limit + 1L))) return Refusals.InFlightFull;
            }
            var read = await source.ReadAsync(_buffer.AsMemory(Length), cancellationToken).ConfigureAwait(false);
            if (read == 0) return Length > limit ? overLimit : null;
            Length += read;
        }
    }

    private bool Grow(int size)
    {
        var next = ArrayPool<byte>.Shared.Rent(size);
        if (!_inFlight.TryReserve(next.Length))
        {
            ArrayPool<byte>.Shared.Return(next);
            return false;
        }
        _buffer.AsSpan(0, Length).CopyTo(next);
        Release();
        _buffer = next;
        _reserved = next.Length;
        return true;
    }

    private void Release()
    {
        if (_reserved == 0) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _inFlight.Release(_reserved);
        _reserved = 0;
        _buffer = [];
    }

    public void Dispose()
    {
        Release();
        Length = 0;
    }
}
