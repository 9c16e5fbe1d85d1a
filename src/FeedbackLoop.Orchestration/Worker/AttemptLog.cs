using System.Globalization;
using System.Text;

namespace FeedbackLoop.Orchestration.Worker;

/// <summary>
/// The log file of one attempt on a worker: the worker's own notes and every line the job's processes print (stdout and
/// stderr, in arrival order), readable only by the worker's user. It is capped: past <see cref="MaxBytes"/> lines are
/// counted, not written (all of them: a log with holes would mislead), and the count is noted at the end. The job's
/// last line is kept as the attempt's progress.
/// </summary>
internal sealed class AttemptLog : IDisposable
{
    /// <summary>A trainer that prints more than this is looping; the rest of its output is counted, not kept.</summary>
    public const long DefaultMaxBytes = 256L * 1024 * 1024;

    /// <summary>Heartbeats carry the last line, cut to this many characters.</summary>
    public const int ProgressLength = 200;

    private readonly Lock _lock = new();
    private readonly StreamWriter _writer;
    private long _written;
    private long _droppedLines;
    private string? _lastLine;

    public AttemptLog(string path, long maxBytes = DefaultMaxBytes)
    {
        Path = path;
        MaxBytes = maxBytes;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var options = new FileStreamOptions { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        _writer = new StreamWriter(new FileStream(path, options), new UTF8Encoding(false)) { AutoFlush = true };
    }

    public string Path { get; }

    public long MaxBytes { get; }

    /// <summary>The last non-empty line, cut to <see cref="ProgressLength"/> characters; null before any.</summary>
    public string? Progress
    {
        get
        {
            lock (_lock)
            {
                return _lastLine;
            }
        }
    }

    /// <summary>A line of the job's output.</summary>
    public void Line(string? line) => Write(line, isProgress: true);

    /// <summary>A note of the worker's own, marked so it stands out from the job's output (it is not progress).</summary>
    public void Note(string note) => Write(string.Create(CultureInfo.InvariantCulture, $"== {DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {note}"), isProgress: false);

    private void Write(string? line, bool isProgress)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            if (isProgress && line.Trim() is { Length: > 0 } trimmed)
            {
                _lastLine = trimmed.Length > ProgressLength ? trimmed[..ProgressLength] : trimmed;
            }

            var bytes = Encoding.UTF8.GetByteCount(line) + 1;
            if (_droppedLines > 0 || _written + bytes > MaxBytes)
            {
                _droppedLines++;
                return;
            }

            _written += bytes;
            _writer.WriteLine(line);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_droppedLines > 0)
            {
                _writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"== {_droppedLines} more line(s) were not written: the log reached its limit of {MaxBytes} bytes"));
            }

            _writer.Dispose();
        }
    }
}
