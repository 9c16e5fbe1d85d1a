namespace FeedbackLoop.Datasets.Tests;

/// <summary>
/// A file built in memory first (<see cref="DurableFile.WriteBufferedAsync"/>, the extractor's dataset files) is written
/// byte for byte whatever its size: the memory is pooled blocks of 128 KiB, so a file spans many of them, and a block
/// reused from an earlier write must never leak that write's bytes.
/// </summary>
public sealed class DurableFileTests : IDisposable
{
    private readonly TempFolder _folder = new("durable-file");

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(128 * 1024)]          // exactly one block
    [InlineData(128 * 1024 + 1)]      // one byte into a second block
    [InlineData(3 * 1024 * 1024 + 17)] // many blocks, written in odd pieces
    public async Task A_buffered_file_holds_exactly_what_was_written(int size)
    {
        var content = new byte[size];
        new Random(size).NextBytes(content);
        var path = _folder.Combine($"part-{size}.bin");

        await DurableFile.WriteBufferedAsync(path, async stream =>
        {
            for (var at = 0; at < size; at += 7_919) await stream.WriteAsync(content.AsMemory(at, Math.Min(7_919, size - at)));
        }, CancellationToken.None);

        Assert.Equal(content, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task A_short_file_after_a_long_one_carries_none_of_the_long_ones_bytes()
    {
        var first = _folder.Combine("long.bin");
        var second = _folder.Combine("short.bin");
        await DurableFile.WriteBufferedAsync(first, s => s.WriteAsync(Enumerable.Repeat((byte)0xAB, 1024 * 1024).ToArray()).AsTask(), CancellationToken.None);

        await DurableFile.WriteBufferedAsync(second, s => s.WriteAsync("short"u8.ToArray()).AsTask(), CancellationToken.None);

        Assert.Equal("short"u8.ToArray(), await File.ReadAllBytesAsync(second));
    }

    [Fact]
    public async Task A_cancelled_buffered_write_leaves_no_file()
    {
        var path = _folder.Combine("cancelled.bin");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            DurableFile.WriteBufferedAsync(path, s => s.WriteAsync(new byte[1000]).AsTask(), cancelled.Token));

        Assert.Empty(Directory.GetFiles(_folder.Path));
    }
}
