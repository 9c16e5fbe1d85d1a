using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using FeedbackLoop.Orchestration.Transport;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace FeedbackLoop.IntegrationTests.Support;

/// <summary>The tests that share one private RabbitMQ node; they run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class RabbitMqCollection : ICollectionFixture<RabbitMqBroker>
{
    /// <summary>The collection's name, for <c>[Collection(RabbitMqCollection.Name)]</c>.</summary>
    public const string Name = "RabbitMQ";
}

/// <summary>One queue as <c>rabbitmqctl list_queues</c> reports it.</summary>
public sealed record RabbitMqQueueInfo(string Name, bool Durable, bool AutoDelete, long Messages, int Consumers);

/// <summary>
/// A private RabbitMQ node for the tests, run from Debian's <c>rabbitmq-server</c> package as a child process:
/// its own node name, Erlang cookie, data, log and config folders (under one temp folder), its own AMQP,
/// distribution and epmd ports on loopback, no plugins. It never uses or disturbs a system RabbitMQ (the
/// Debian package's service on 5672 and epmd on 4369). <see cref="StopAsync"/> and <see cref="StartAsync"/>
/// keep the data folder, so durable queues and persistent messages survive a restart as on a real server.
/// </summary>
/// <remarks>
/// The node runs under a small shell script that also runs its epmd and watches its stdin: when this
/// process goes away without disposing the fixture (a crashed or killed test host), the pipe closes and the
/// script stops the node and epmd, so no broker is left behind holding ports.
/// </remarks>
public sealed class RabbitMqBroker : IAsyncLifetime
{
    /// <summary>Where Debian installs the scripts that run the broker directly (the ones in /usr/sbin switch to the rabbitmq user).</summary>
    public const string DebianScripts = "/usr/lib/rabbitmq/bin";

    /// <summary>Names another folder with <c>rabbitmq-server</c> and <c>rabbitmqctl</c> (a RabbitMQ not from Debian).</summary>
    public const string ScriptsVariable = "FEEDBACKLOOP_RABBITMQ_SBIN";

    private const string User = "fltest";
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ControlDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReadyPollInterval = TimeSpan.FromMilliseconds(100);
    private static int _instances;

    private readonly string _scripts;
    private readonly string _password = Guid.NewGuid().ToString("N");
    private Process? _server;
    private int _virtualHosts;

    /// <summary>Prepares a node (folders, ports, name); <see cref="InitializeAsync"/> starts it.</summary>
    /// <exception cref="InvalidOperationException">rabbitmq-server is not installed.</exception>
    public RabbitMqBroker()
    {
        _scripts = FindScripts();
        RemoveFoldersOfDeadRuns();
        var instance = Interlocked.Increment(ref _instances);
        NodeName = string.Create(CultureInfo.InvariantCulture, $"fltest-{Environment.ProcessId}-{instance}@localhost");
        Root = Path.Combine(Path.GetTempPath(), string.Create(CultureInfo.InvariantCulture, $"{FolderPrefix}{Environment.ProcessId}-{instance}"));
        var ports = FreeLoopbackPorts(4);
        (AmqpPort, DistributionPort, EpmdPort, TlsPort) = (ports[0], ports[1], ports[2], ports[3]);
    }

    /// <summary>Where clients connect over TLS (127.0.0.1): a certificate for 127.0.0.1 signed by the node's own CA.</summary>
    public int TlsPort { get; }

    /// <summary>The PEM certificate of the CA that signed the TLS listener's certificate (what a client trusts).</summary>
    public string TlsCaFile => Path.Combine(Root, "tls", "ca.pem");

    /// <summary><see cref="Settings"/>'s login on the TLS listener, trusting <see cref="TlsCaFile"/>.</summary>
    public RabbitMqSettings TlsSettings(RabbitMqSettings plain) =>
        new RabbitMqSettings(plain.Host, TlsPort, plain.VirtualHost, plain.User, plain.Password) { UseTls = true, CaFile = TlsCaFile, StartTimeout = plain.StartTimeout };

    /// <summary>The Erlang node name, unique per test process and fixture.</summary>
    public string NodeName { get; }

    /// <summary>The private folder that holds the node's data, logs, config and cookie.</summary>
    public string Root { get; }

    /// <summary>Where clients connect (127.0.0.1).</summary>
    public int AmqpPort { get; }

    /// <summary>The node's Erlang distribution port (how <c>rabbitmqctl</c> reaches it).</summary>
    public int DistributionPort { get; }

    /// <summary>The port of the node's own epmd.</summary>
    public int EpmdPort { get; }

    /// <summary>True between a successful start and the next stop or kill.</summary>
    public bool IsRunning => _server is { HasExited: false };

    /// <summary>How long the last start took until the broker accepted an AMQP connection.</summary>
    public TimeSpan LastStartDuration { get; private set; }

    /// <summary>The default virtual host <c>/</c> with this node's user; prefer <see cref="NewVirtualHostAsync"/> per test.</summary>
    public RabbitMqSettings Settings => SettingsFor("/");

    /// <summary>The node's main log file.</summary>
    public string LogFile => Path.Combine(Root, "log", NodeName + ".log");

    private static string FolderPrefix => "feedbackloop-rabbitmq-";

    private string ServerOutput => Path.Combine(Root, "server.out");

    /// <inheritdoc />
    public Task InitializeAsync() => StartAsync();

    /// <summary>Stops the node (gracefully, or killed if it does not stop) and deletes its folder.</summary>
    public async Task DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>
    /// Starts the node (again: same folders and ports) and returns once it accepts an AMQP connection.
    /// </summary>
    /// <exception cref="InvalidOperationException">It exited or was not ready within the deadline; the message ends with its log.</exception>
    public async Task StartAsync()
    {
        if (IsRunning) throw new InvalidOperationException($"RabbitMQ node {NodeName} is already running");
        WriteConfiguration();
        var clock = Stopwatch.StartNew();
        var start = new ProcessStartInfo("/bin/sh", [Path.Combine(Root, "run-node.sh")])
        {
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        SetNodeEnvironment(start);
        _server = Process.Start(start) ?? throw new InvalidOperationException("could not start /bin/sh for RabbitMQ");

        using var deadline = new CancellationTokenSource(StartDeadline);
        var factory = ConnectionFactoryFor(Settings);
        var server = _server;
        Exception? lastError = null;
        var ready = await Eventually.TrueAsync(async () =>
        {
            if (server.HasExited)
            {
                throw new InvalidOperationException(
                    $"RabbitMQ node {NodeName} exited with code {server.ExitCode} while starting.\n{LogTail()}");
            }
            try
            {
                await using var connection = await factory.CreateConnectionAsync(deadline.Token);
                return true;
            }
            catch (Exception ex) when (ex is IOException or RabbitMQClientException && !deadline.IsCancellationRequested)
            {
                // Not listening yet, or listening but still booting: try again shortly.
                lastError = ex;
                return false;
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                return false;
            }
        }, StartDeadline, ReadyPollInterval);

        if (!ready)
        {
            await KillAsync();
            throw new InvalidOperationException(
                $"RabbitMQ node {NodeName} did not accept connections on 127.0.0.1:{AmqpPort} within {StartDeadline.TotalSeconds:0} s "
                + $"(last error: {lastError?.Message ?? "none"}).\n{LogTail()}");
        }

        LastStartDuration = clock.Elapsed;
    }

    /// <summary>
    /// Stops the node the way an operator would (it closes connections, flushes and exits; epmd goes with it);
    /// the data folder stays, so a later <see cref="StartAsync"/> recovers durable queues and persistent messages.
    /// </summary>
    public async Task StopAsync()
    {
        if (_server is null) return;
        var server = _server;
        _server = null;
        if (!server.HasExited)
        {
            // Closing stdin is the script's signal to stop the node (see run-node.sh).
            try { server.StandardInput.Close(); } catch (IOException) { }
            using var deadline = new CancellationTokenSource(StopDeadline);
            try
            {
                await server.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync(CancellationToken.None);
            }
        }

        server.Dispose();
        KillLeftoverNode();
    }

    /// <summary>Kills the node, its scripts and epmd at once (SIGKILL), as a crash or power loss would; the data folder stays.</summary>
    public async Task KillAsync()
    {
        if (_server is null) return;
        var server = _server;
        _server = null;
        if (!server.HasExited)
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync(CancellationToken.None);
        }

        server.Dispose();
        KillLeftoverNode();
    }

    /// <summary>Stops the node and starts it again on the same data, ports and name.</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    /// <summary>
    /// A new, empty virtual host that this node's user may use fully: the test's own queues and exchanges, so
    /// tests that share the node never see each other's messages.
    /// </summary>
    public async Task<RabbitMqSettings> NewVirtualHostAsync(string prefix = "test")
    {
        var name = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{Interlocked.Increment(ref _virtualHosts)}");
        await ControlAsync("add_vhost", name);
        await ControlAsync("set_permissions", "-p", name, User, ".*", ".*", ".*");
        return SettingsFor(name);
    }

    /// <summary>The queues of a virtual host, as the broker itself reports them (no management plugin needed).</summary>
    public async Task<IReadOnlyList<RabbitMqQueueInfo>> ListQueuesAsync(string virtualHost)
    {
        var json = await ControlAsync("list_queues", "-p", virtualHost, "name", "durable", "auto_delete", "messages", "consumers", "--formatter", "json");
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(q => new RabbitMqQueueInfo(
            q.GetProperty("name").GetString()!, q.GetProperty("durable").GetBoolean(), q.GetProperty("auto_delete").GetBoolean(),
            q.GetProperty("messages").GetInt64(), q.GetProperty("consumers").GetInt32())).ToList();
    }

    /// <summary>
    /// Runs <c>rabbitmqctl</c> against this node (<c>-n</c> and the private cookie and epmd are set) and returns
    /// its standard output.
    /// </summary>
    /// <exception cref="InvalidOperationException">It failed or did not finish within a minute.</exception>
    public async Task<string> ControlAsync(params string[] arguments)
    {
        var control = new ProcessStartInfo(Path.Combine(_scripts, "rabbitmqctl"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        foreach (var argument in (string[])["-n", NodeName, "-q", .. arguments]) control.ArgumentList.Add(argument);
        SetNodeEnvironment(control);
        using var process = Process.Start(control) ?? throw new InvalidOperationException("could not start rabbitmqctl");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(ControlDeadline);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} did not finish within {ControlDeadline.TotalSeconds:0} s");
        }

        if (process.ExitCode != 0)
            throw new InvalidOperationException($"rabbitmqctl {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}{await stdout}");
        return await stdout;
    }

    /// <summary>The last lines of the node's log and of its scripts' output, for failure messages.</summary>
    public string LogTail(int lines = 40)
    {
        static string Tail(string path, int count) =>
            File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(count)) : "(none)";
        return $"--- {LogFile} ---\n{Tail(LogFile, lines)}\n--- {ServerOutput} ---\n{Tail(ServerOutput, lines)}";
    }

    /// <summary>
    /// The environment a child process (a worker or orchestrator under test) needs to reach <paramref name="settings"/>
    /// through <see cref="LoopTransport.FromEnvironment"/>: the URI without the password, and the password apart.
    /// </summary>
    public static IReadOnlyDictionary<string, string> EnvironmentFor(RabbitMqSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new Dictionary<string, string>
        {
            [RabbitMqSettings.UriVariable] = settings.ToString(),
            [RabbitMqSettings.PasswordVariable] = settings.Password,
            [JobKey.Variable] = JobKeyText,
        };
    }

    /// <summary>The job signing key every process of a test loop shares (a loop on RabbitMQ needs one).</summary>
    public const string JobKeyText = "test-job-key-0123456789abcdef0123456789abcdef";

    /// <summary>A connection factory for <paramref name="settings"/> (for reading queues directly in tests).</summary>
    public static ConnectionFactory ConnectionFactoryFor(RabbitMqSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return new ConnectionFactory
        {
            HostName = settings.Host,
            Port = settings.Port,
            VirtualHost = settings.VirtualHost,
            UserName = settings.User,
            Password = settings.Password,
            AutomaticRecoveryEnabled = false,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(5),
        };
    }

    private RabbitMqSettings SettingsFor(string virtualHost) =>
        new("127.0.0.1", AmqpPort, virtualHost, User, _password) { StartTimeout = TimeSpan.FromSeconds(30) };

    private void WriteConfiguration()
    {
        foreach (var folder in (string[])["mnesia", "log", "home"]) Directory.CreateDirectory(Path.Combine(Root, folder));
        // The password is the node's own, random per fixture; the loop's code never logs it.
        var tls = Directory.CreateDirectory(Path.Combine(Root, "tls")).FullName;
        if (!File.Exists(TlsCaFile))
        {
            using var authority = new TestCertificateAuthority("FeedbackLoop test broker CA");
            authority.WriteCertificate(TlsCaFile);
            authority.WriteServerCertificate("localhost", IPAddress.Loopback, Path.Combine(tls, "server.pem"), Path.Combine(tls, "server.key"));
        }

        File.WriteAllText(Path.Combine(Root, "rabbitmq.conf"), $"""
            listeners.ssl.default = 127.0.0.1:{TlsPort}
            ssl_options.cacertfile = {TlsCaFile}
            ssl_options.certfile = {Path.Combine(tls, "server.pem")}
            ssl_options.keyfile = {Path.Combine(tls, "server.key")}
            ssl_options.verify = verify_none
            ssl_options.fail_if_no_peer_cert = false
            default_user = {User}
            default_pass = {_password}
            default_vhost = /
            default_permissions.configure = .*
            default_permissions.read = .*
            default_permissions.write = .*
            log.console = false
            log.file.level = info

            """);
        File.WriteAllText(Path.Combine(Root, "enabled_plugins"), "[].\n");
        // Empty on purpose: the Debian package's /etc/rabbitmq/rabbitmq-env.conf must not apply to this node.
        File.WriteAllText(Path.Combine(Root, "rabbitmq-env.conf"), "");
        File.WriteAllText(Path.Combine(Root, "run-node.sh"), RunNodeScript.Replace("{scripts}", _scripts, StringComparison.Ordinal));
    }

    // Everything RabbitMQ 3.10's scripts read that would otherwise point at the system node's files or ports
    // (checked on Debian's 3.10.8: with these set, nothing under /etc/rabbitmq or /var/lib/rabbitmq is used).
    private void SetNodeEnvironment(ProcessStartInfo process)
    {
        foreach (var inherited in process.Environment.Keys.Where(k => k.StartsWith("RABBITMQ_", StringComparison.Ordinal)).ToList())
            process.Environment.Remove(inherited);
        var port = (int value) => value.ToString(CultureInfo.InvariantCulture);
        process.Environment["HOME"] = Path.Combine(Root, "home"); // the Erlang cookie lives here
        process.Environment["ERL_EPMD_PORT"] = port(EpmdPort);
        process.Environment["ERL_EPMD_ADDRESS"] = "127.0.0.1";
        process.Environment["RABBITMQ_NODENAME"] = NodeName;
        process.Environment["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1";
        process.Environment["RABBITMQ_NODE_PORT"] = port(AmqpPort);
        process.Environment["RABBITMQ_DIST_PORT"] = port(DistributionPort);
        process.Environment["RABBITMQ_MNESIA_BASE"] = Path.Combine(Root, "mnesia");
        process.Environment["RABBITMQ_LOG_BASE"] = Path.Combine(Root, "log");
        process.Environment["RABBITMQ_CONFIG_FILE"] = Path.Combine(Root, "rabbitmq.conf");
        process.Environment["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(Root, "advanced.config");
        process.Environment["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(Root, "rabbitmq-env.conf");
        process.Environment["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(Root, "enabled_plugins");
        // Distribution on loopback only; never start a shared epmd on 4369 (the script runs the node's own).
        process.Environment["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1} -start_epmd false";
        process.Environment["RABBITMQ_CTL_ERL_ARGS"] = "-start_epmd false";
    }

    // The beam process normally exits with its scripts; if one survived (its parent was killed first), kill it
    // by the pid the node wrote, after checking that the pid still belongs to this node.
    private void KillLeftoverNode()
    {
        var pidFile = Path.Combine(Root, "mnesia", NodeName + ".pid");
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture, out var pid)) return;
        try
        {
            using var beam = Process.GetProcessById(pid);
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline");
            if (!commandLine.Contains(Root, StringComparison.Ordinal)) return;
            beam.Kill(entireProcessTree: true);
            beam.WaitForExit(StopDeadline);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IOException or Win32Exception)
        {
            // Already gone.
        }
    }

    private static string FindScripts()
    {
        var folder = Environment.GetEnvironmentVariable(ScriptsVariable) is { Length: > 0 } configured ? configured : DebianScripts;
        if (File.Exists(Path.Combine(folder, "rabbitmq-server")) && File.Exists(Path.Combine(folder, "rabbitmqctl"))) return folder;
        throw new InvalidOperationException(
            $"rabbitmq-server is not installed (no rabbitmq-server and rabbitmqctl in {folder}). The RabbitMQ tests run a private "
            + "node from Debian's package: run ./test.sh, which installs it, or `apt-get install -y rabbitmq-server` "
            + $"(for a RabbitMQ installed elsewhere, set {ScriptsVariable} to the folder holding its scripts).");
    }

    // Ports below the kernel's ephemeral range, so that no outgoing connection of another process can take one
    // while the node is down between a stop and a start (it keeps its ports across restarts).
    private static int[] FreeLoopbackPorts(int count)
    {
        var ephemeralStart = 32768;
        const string range = "/proc/sys/net/ipv4/ip_local_port_range";
        if (File.Exists(range) && int.TryParse(File.ReadAllText(range).Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture, out var start))
            ephemeralStart = start;
        const int lowest = 10_000;
        if (ephemeralStart <= lowest + 1_000) return FreeEphemeralPorts(count); // an unusual range: let the kernel pick
        var picked = new List<int>();
        for (var attempt = 0; picked.Count < count; attempt++)
        {
            if (attempt == 1_000) throw new InvalidOperationException($"no {count} free loopback ports between {lowest} and {ephemeralStart}");
            var port = Random.Shared.Next(lowest, ephemeralStart);
            if (!picked.Contains(port) && IsFree(port)) picked.Add(port);
        }

        return [.. picked];
    }

    private static int[] FreeEphemeralPorts(int count)
    {
        // All listeners stay open until every port is picked, so the ports differ from one another.
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Stop());
        }
    }

    private static bool IsFree(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static void RemoveFoldersOfDeadRuns() => DeadRunFolders.Remove(FolderPrefix);

    // Runs the node's epmd, then the node, in the foreground; stops both when stdin closes (the fixture's stop,
    // or the test process's death) and exits with the node's status. rabbitmq-server turns SIGTERM into a clean
    // shutdown. Output goes to server.out for the failure messages.
    private const string RunNodeScript = """
        #!/bin/sh
        exec 3<&0 </dev/null >>server.out 2>&1
        epmd -port "$ERL_EPMD_PORT" -address 127.0.0.1 &
        epmd_pid=$!
        tries=0
        until epmd -port "$ERL_EPMD_PORT" -names >/dev/null 2>&1; do
            tries=$((tries + 1))
            if [ "$tries" -gt 200 ] || ! kill -0 "$epmd_pid" 2>/dev/null; then
                echo "epmd did not start on port $ERL_EPMD_PORT"; kill "$epmd_pid" 2>/dev/null; exit 70
            fi
            sleep 0.05
        done
        "{scripts}/rabbitmq-server" &
        node_pid=$!
        ( read -r _ <&3; kill -TERM "$node_pid" 2>/dev/null ) &
        watch_pid=$!
        wait "$node_pid"
        status=$?
        kill "$watch_pid" 2>/dev/null
        kill "$epmd_pid" 2>/dev/null
        wait "$epmd_pid" 2>/dev/null
        echo "node exited with status $status"
        exit "$status"
        """;
}
