using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace FeedbackLoop.TestSupport;

/// <summary>
/// A private PostgreSQL server for the tests, run from Debian's <c>postgresql</c> package as a child process: its own
/// cluster (initdb) in a temp folder, its own loopback port and unix socket folder, trust authentication for its one
/// user on loopback only, no fsync (a test cluster need not survive a power cut). It never uses or disturbs a system
/// PostgreSQL. <see cref="Dispose"/> stops it and deletes its folder; a test host killed without disposing it leaves
/// no server behind either: the server runs under a small script that stops it when this process's pipe closes.
/// </summary>
/// <remarks>
/// PostgreSQL refuses to run as root; under root (CI containers) the server runs as the package's <c>postgres</c> user
/// through <c>runuser</c>, and its folder is handed to that user.
/// </remarks>
public sealed class PostgresServer : IDisposable
{
    /// <summary>Where Debian installs the server's programs.</summary>
    public const string DebianBinaries = "/usr/lib/postgresql/15/bin";

    /// <summary>Names another folder with <c>initdb</c> and <c>postgres</c> (a PostgreSQL not from Debian).</summary>
    public const string BinariesVariable = "FEEDBACKLOOP_POSTGRES_BIN";

    /// <summary>The server's one user (a superuser; trust authentication on loopback).</summary>
    public const string User = "fltest";

    private const string FolderPrefix = "feedbackloop-postgres-";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);
    private static int _databases;

    private readonly string _binaries;
    private readonly Process _server;

    /// <summary>Creates the cluster and starts the server; returns once it accepts connections.</summary>
    /// <exception cref="InvalidOperationException">PostgreSQL is not installed, or the server did not start (the message ends with its log).</exception>
    public PostgresServer()
    {
        _binaries = FindBinaries();
        RemoveFoldersOfDeadRuns();
        Root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture,
            $"{FolderPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}"))).FullName;
        Directory.CreateDirectory(SocketFolder);
        Port = FreeLoopbackPort();
        var asRoot = Environment.UserName == "root";
        if (asRoot)
        {
            Run("chown", ["-R", "postgres:", Root], asPostgres: false);
        }

        Run(Path.Combine(_binaries, "initdb"),
            ["-D", DataFolder, "-U", User, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], asRoot);

        File.WriteAllText(ScriptPath, RunServerScript
            .Replace("{postgres}", Path.Combine(_binaries, "postgres"), StringComparison.Ordinal)
            .Replace("{data}", DataFolder, StringComparison.Ordinal)
            .Replace("{port}", Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{sockets}", SocketFolder, StringComparison.Ordinal)
            .Replace("{log}", LogFile, StringComparison.Ordinal));
        if (asRoot)
        {
            Run("chown", ["postgres:", ScriptPath], asPostgres: false);
        }

        var start = asRoot
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", "/bin/sh", ScriptPath])
            : new ProcessStartInfo("/bin/sh", [ScriptPath]);
        start.RedirectStandardInput = true;
        start.UseShellExecute = false;
        start.WorkingDirectory = Root;
        _server = Process.Start(start) ?? throw new InvalidOperationException("could not start the PostgreSQL server script");

        var clock = Stopwatch.StartNew();
        Exception? lastError = null;
        var server = _server;
        var ready = Eventually.TrueAsync(() =>
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException($"PostgreSQL exited with code {server.ExitCode} while starting.\n{LogTail()}");
            }

            try
            {
                using var connection = new NpgsqlConnection(ConnectionString("postgres"));
                connection.Open();
                return true;
            }
            catch (Exception e) when (e is NpgsqlException or SocketException)
            {
                lastError = e; // not listening yet, or still starting up
                return false;
            }
        }, StartDeadline, TimeSpan.FromMilliseconds(50)).GetAwaiter().GetResult();
        if (!ready)
        {
            Dispose();
            throw new InvalidOperationException(
                $"PostgreSQL did not accept connections on 127.0.0.1:{Port} within {StartDeadline.TotalSeconds:0} s (last error: {lastError?.Message ?? "none"}).\n{LogTail()}");
        }

        StartDuration = clock.Elapsed;
    }

    /// <summary>The server's private folder (data, sockets, log).</summary>
    public string Root { get; }

    /// <summary>The loopback port it listens on.</summary>
    public int Port { get; }

    /// <summary>How long the server took from its start until it accepted a connection (initdb not counted).</summary>
    public TimeSpan StartDuration { get; }

    /// <summary>The server's log.</summary>
    public string LogFile => Path.Combine(Root, "server.log");

    private string DataFolder => Path.Combine(Root, "data");

    private string SocketFolder => Path.Combine(Root, "sockets");

    private string ScriptPath => Path.Combine(Root, "run-server.sh");

    /// <summary>An Npgsql connection string to <paramref name="database"/> as <see cref="User"/> (no password: trust).</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = Port, Username = User, Database = database, Pooling = false,
    }.ConnectionString;

    /// <summary>The <c>postgres://</c> URL of <paramref name="database"/> (what an operator passes to <c>--store</c>).</summary>
    public string Url(string database) => string.Create(CultureInfo.InvariantCulture, $"postgres://{User}@127.0.0.1:{Port}/{database}");

    /// <summary>Creates a new, empty database and returns its name: each test its own, so tests never see each other's rows.</summary>
    public string NewDatabase(string prefix = "test")
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{prefix}_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}");
        using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        connection.Open();
        using var create = connection.CreateCommand();
        create.CommandText = $"CREATE DATABASE \"{name}\"";
        create.ExecuteNonQuery();
        return name;
    }

    /// <summary>The last lines of the server's log, for failure messages.</summary>
    public string LogTail(int lines = 40) =>
        File.Exists(LogFile) ? $"--- {LogFile} ---\n{string.Join('\n', File.ReadLines(LogFile).TakeLast(lines))}" : "(no server log)";

    /// <summary>Stops the server (fast shutdown: sessions are ended) and deletes its folder.</summary>
    public void Dispose()
    {
        if (!_server.HasExited)
        {
            // Closing stdin is the script's signal to stop the server (see run-server.sh).
            try { _server.StandardInput.Close(); } catch (IOException) { }
            if (!_server.WaitForExit(StopDeadline))
            {
                _server.Kill(entireProcessTree: true);
                _server.WaitForExit();
            }
        }

        _server.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private void Run(string program, string[] arguments, bool asPostgres)
    {
        var start = asPostgres
            ? new ProcessStartInfo("runuser", ["-u", "postgres", "--", program, .. arguments])
            : new ProcessStartInfo(program, arguments);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.WorkingDirectory = Root;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(StartDeadline))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{program} did not finish within {StartDeadline.TotalSeconds:0} s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {stderr.Result}{stdout.Result}");
        }
    }

    private static string FindBinaries()
    {
        // Debian 12's PostgreSQL is 15; on another release the newest installed version is taken.
        var folder = Environment.GetEnvironmentVariable(BinariesVariable) is { Length: > 0 } configured
            ? configured
            : Directory.Exists(DebianBinaries) || !Directory.Exists("/usr/lib/postgresql")
                ? DebianBinaries
                : Directory.EnumerateDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin")).Where(Directory.Exists)
                    .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), CultureInfo.InvariantCulture, out var v) ? v : 0)
                    .FirstOrDefault() ?? DebianBinaries;
        if (File.Exists(Path.Combine(folder, "initdb")) && File.Exists(Path.Combine(folder, "postgres")))
        {
            return folder;
        }

        throw new InvalidOperationException(
            $"PostgreSQL is not installed (no initdb and postgres in {folder}). The PostgreSQL tests run a private server from "
            + $"Debian's package: run ./test.sh, which installs it, or `apt-get install -y postgresql` (for a PostgreSQL installed "
            + $"elsewhere, set {BinariesVariable} to the folder holding its programs).");
    }

    private static int FreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static void RemoveFoldersOfDeadRuns() => DeadRunFolders.Remove(FolderPrefix);

    // Runs the server in the foreground and stops it (SIGINT: fast shutdown) when stdin closes: the fixture's stop, or
    // the test process's death. Loopback only; the socket in the private folder, not /var/run/postgresql.
    private const string RunServerScript = """
        #!/bin/sh
        exec 3<&0 </dev/null >>"{log}" 2>&1
        "{postgres}" -D "{data}" -p {port} -k "{sockets}" -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=200 &
        server_pid=$!
        ( read -r _ <&3; kill -INT "$server_pid" 2>/dev/null ) &
        watch_pid=$!
        wait "$server_pid"
        status=$?
        kill "$watch_pid" 2>/dev/null
        echo "server exited with status $status"
        exit "$status"
        """;
}
