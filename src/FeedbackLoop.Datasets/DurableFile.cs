using FeedbackLoop.Durability;
using Microsoft.IO;

namespace FeedbackLoop.Datasets;

/// <summary>
/// Write-then-rename with fsync: a reader (or a restarted extractor) sees either the whole file or none
/// of it, and once <see cref="WriteAsync"/> returns the file survives a power loss.
/// </summary>
internal static class DurableFile
{
    public const string PartialSuffix = ".partial";

    /// <summary>
    /// The memory files are built in before their one write: pooled blocks of 128 KiB, not a <see cref="MemoryStream"/> that
    /// doubles. A flush's files are megabytes, so the doubling allocated about twice each file, on the large object heap,
    /// whose growth counts towards full collections (docs/BENCHMARKS.md, "Dataset files built in pooled blocks"). Blocks come
    /// back when a write ends; at most 64 MiB of free blocks are kept, the rest is left to the GC.
    /// </summary>
    private static readonly RecyclableMemoryStreamManager Buffers = new(new RecyclableMemoryStreamManager.Options
    {
        BlockSize = 128 * 1024,
        MaximumSmallPoolFreeBytes = 64L * 1024 * 1024,
        // No contiguous buffer is ever asked for (the content is written out block by block), so the large pool stays empty.
        MaximumLargePoolFreeBytes = 0,
    });

    public static async Task WriteAsync(string finalPath, Func<Stream, Task> write, CancellationToken cancellationToken)
    {
        await ReplaceAsync(finalPath, async temporary =>
        {
            await using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous);
            await write(stream).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// As <see cref="WriteAsync"/>, for a file small enough to build in memory first (the extractor's files, bounded by
    /// one flush): <paramref name="write"/> writes into memory, where Parquet.Net's asynchronous page writes complete at
    /// once, and the file then gets one synchronous write on the calling thread. Streamed into an asynchronous file, every
    /// page Parquet.Net copies out is a separate write that .NET runs as a thread-pool work item on Linux.
    /// </summary>
    public static async Task WriteBufferedAsync(string finalPath, Func<Stream, Task> write, CancellationToken cancellationToken)
    {
        using var content = Buffers.GetStream("dataset-file");
        await write(content).ConfigureAwait(false);
        // A memory stream never looks at the token, so a cancelled write must stop here, before any file exists.
        cancellationToken.ThrowIfCancellationRequested();
        await ReplaceAsync(finalPath, temporary =>
        {
            using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
            content.WriteTo(stream);
            stream.Flush(flushToDisk: true);
            return Task.CompletedTask;
        }).ConfigureAwait(false);
    }

    /// <summary>Writes a temporary next to <paramref name="finalPath"/> (fsynced by <paramref name="write"/>), renames it, fsyncs the folder.</summary>
    private static async Task ReplaceAsync(string finalPath, Func<string, Task> write)
    {
        var directory = Path.GetDirectoryName(finalPath)!;
        var temporary = Path.Combine(directory, "." + Path.GetFileName(finalPath) + "." + Guid.NewGuid().ToString("N")[..8] + PartialSuffix);
        try
        {
            await write(temporary).ConfigureAwait(false);
            File.Move(temporary, finalPath, overwrite: true);
            FolderSync.Sync(directory);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Removes temporaries a crash left behind; they were never renamed, so no offset covers them. Only those last
    /// written at least <paramref name="minimumAge"/> ago: a younger one may be another instance's write in progress.
    /// </summary>
    public static int RemoveLeftovers(string directory, TimeSpan minimumAge)
    {
        if (!Directory.Exists(directory)) return 0;
        var removed = 0;
        var before = DateTime.UtcNow - minimumAge;
        foreach (var path in Directory.EnumerateFiles(directory, "*" + PartialSuffix))
        {
            if (File.GetLastWriteTimeUtc(path) > before) continue;
            TryDelete(path);
            removed++;
        }
        return removed;
    }

    /// <summary>
    /// Creates a folder, and every missing folder above it, readable by the owner and group only: datasets
    /// hold user text, and even the app ids in the path are nobody else's business.
    /// (<see cref="Directory.CreateDirectory(string, UnixFileMode)"/> applies the mode to the last level only.)
    /// </summary>
    public static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        var missing = new Stack<string>();
        for (var current = Path.GetFullPath(path); !Directory.Exists(current); current = Path.GetDirectoryName(current)!)
            missing.Push(current);
        while (missing.TryPop(out var folder))
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary is removed again at the next start.
        }
    }
}
