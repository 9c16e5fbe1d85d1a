using System.Data.Common;
using Dapper;
using Npgsql;

namespace FeedbackLoop.Orchestration.Store;

/// <summary>One change of the active orchestrator, as the store records it.</summary>
/// <param name="Generation">The lease's number, one more at each takeover (1 for the first orchestrator).</param>
/// <param name="Holder">Who took it (host and process id).</param>
/// <param name="PreviousHolder">Who held it before; null for the first.</param>
/// <param name="TakenAt">When it was taken.</param>
public sealed record OrchestratorHandover(long Generation, string Holder, string? PreviousHolder, DateTimeOffset TakenAt);

/// <summary>A write of an orchestrator that is no longer the active one: another took the lease over (the write was refused).</summary>
public sealed class LeadershipLostException(string message) : Exception(message);

/// <summary>
/// The right to act as the store's one active orchestrator (docs/adr/0037-postgresql-store-and-one-active-orchestrator.md):
/// a lock that lives exactly as long as its holder's process, so a standby takes over as soon as the active one dies,
/// SIGKILL included. On PostgreSQL a session advisory lock held on a connection of its own (the server drops it with the
/// connection); on SQLite an exclusive lock on the file <c>registry.db.leader</c> (the kernel drops it with the process).
/// Each acquisition bumps the store's lease generation and records the handover; from then on every write of this
/// process checks, inside its transaction, that the generation is still its own (<see cref="StoreDatabase.BeginWrite"/>),
/// so an orchestrator that lost the lease without noticing (a paused process, a dropped connection) can never write
/// again: that is what keeps a run from being driven twice.
/// </summary>
public sealed class OrchestratorLease : IAsyncDisposable
{
    private const string Role = "orchestrator";
    private static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    private readonly StoreDatabase _database;
    private readonly NpgsqlConnection? _lockConnection;
    private readonly FileStream? _lockFile;
    private readonly CancellationTokenSource _lost = new();
    private readonly CancellationTokenSource _stopChecking = new();
    private readonly Task _checking;

    private OrchestratorLease(StoreDatabase database, NpgsqlConnection? lockConnection, FileStream? lockFile, OrchestratorHandover handover)
    {
        _database = database;
        _lockConnection = lockConnection;
        _lockFile = lockFile;
        Handover = handover;
        _checking = lockConnection is null ? Task.CompletedTask : CheckAsync(lockConnection);
    }

    /// <summary>This process's takeover: its generation, its holder id, whom it took over from.</summary>
    public OrchestratorHandover Handover { get; }

    /// <summary>Cancelled when the lease is lost (its connection dropped, or a write found another generation): stop at once.</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>What <see cref="Lost"/> was cancelled for; null while the lease holds.</summary>
    public string? LostReason { get; private set; }

    /// <summary>
    /// Waits until this process holds the lease, then records the handover. While another orchestrator holds it,
    /// <paramref name="waiting"/> is told once who that is.
    /// </summary>
    /// <param name="database">The store.</param>
    /// <param name="holder">This process's id (host and process id), recorded with the handover.</param>
    /// <param name="waiting">Told when this process starts waiting as the standby (the active holder, or null when unknown).</param>
    /// <param name="cancellationToken">Stops waiting (the standby is shut down).</param>
    public static async Task<OrchestratorLease> AcquireAsync(StoreDatabase database, string holder, Action<string?> waiting, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentException.ThrowIfNullOrEmpty(holder);
        ArgumentNullException.ThrowIfNull(waiting);
        NpgsqlConnection? connection = null;
        FileStream? file = null;
        try
        {
            if (database.Dialect.Engine == StoreEngine.PostgreSql)
            {
                connection = database.ConnectUnpooled();
                var locked = await connection.ExecuteScalarAsync<bool>(
                    "SELECT pg_try_advisory_lock(@lock_class, @lock_object)", Lock).ConfigureAwait(false);
                if (!locked)
                {
                    waiting(Current(database)?.Holder);
                    // Blocks until the holder's session ends; no timeout: a standby waits as long as the active one lives.
                    await connection.ExecuteAsync(new CommandDefinition(
                        "SELECT pg_advisory_lock(@lock_class, @lock_object)", Lock, commandTimeout: 0, cancellationToken: cancellationToken)).ConfigureAwait(false);
                }
            }
            else
            {
                file = await LockFileAsync(database.Location.Text + ".leader", () => waiting(Current(database)?.Holder), cancellationToken).ConfigureAwait(false);
            }

            var handover = Take(database, holder);
            var lease = new OrchestratorLease(database, connection, file, handover);
            database.Fence = lease;
            return lease;
        }
        catch
        {
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
            if (file is not null) await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The store's active orchestrator as last recorded (it may have died since; the lock, not this row, decides).</summary>
    public static OrchestratorHandover? Current(StoreDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var connection = database.Connect();
        return connection.QuerySingleOrDefault<HandoverRow>(
            $"{HandoverColumns} WHERE role = @role ORDER BY generation DESC LIMIT 1", new { role = Role })?.ToRecord();
    }

    /// <summary>Every takeover, oldest first.</summary>
    public static IReadOnlyList<OrchestratorHandover> Handovers(StoreDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        using var connection = database.Connect();
        return [.. connection.Query<HandoverRow>($"{HandoverColumns} WHERE role = @role ORDER BY generation", new { role = Role }).Select(r => r.ToRecord())];
    }

    /// <summary>
    /// Inside a write transaction of this process: refuses it when another orchestrator has taken the lease since.
    /// </summary>
    /// <exception cref="LeadershipLostException">The store's generation is no longer this lease's.</exception>
    internal void CheckFence(DbConnection connection, DbTransaction transaction)
    {
        var generation = connection.ExecuteScalar<long?>("SELECT generation FROM leadership WHERE role = @role", new { role = Role }, transaction);
        if (generation != Handover.Generation)
        {
            var reason = $"orchestrator lease generation {Handover.Generation} was taken over (the store is at generation {generation}); this process no longer writes";
            MarkLost(reason);
            throw new LeadershipLostException(reason);
        }
    }

    /// <summary>Releases the lease (a clean stop): the standby takes over at once.</summary>
    public async ValueTask DisposeAsync()
    {
        if (ReferenceEquals(_database.Fence, this))
        {
            _database.Fence = null;
        }

        await _stopChecking.CancelAsync().ConfigureAwait(false);
        await _checking.ConfigureAwait(false);
        if (_lockConnection is not null) await _lockConnection.DisposeAsync().ConfigureAwait(false);
        if (_lockFile is not null) await _lockFile.DisposeAsync().ConfigureAwait(false);
        _lost.Dispose();
        _stopChecking.Dispose();
    }

    private static object Lock => new { lock_class = StoreDialect.LockClass, lock_object = StoreDialect.LeadershipLock };

    // Records the takeover: the next generation, who holds it now and who held it before. A write like any other (one
    // writer at a time), made before the fence is set, so it is never refused by the generation it replaces.
    private static OrchestratorHandover Take(StoreDatabase database, string holder)
    {
        using var connection = database.Connect();
        using var transaction = database.Dialect.BeginWrite(connection);
        var previous = connection.QuerySingleOrDefault<LeaseRow>(
            "SELECT generation, holder FROM leadership WHERE role = @role", new { role = Role }, transaction);
        var handover = new OrchestratorHandover((previous?.Generation ?? 0) + 1, holder, previous?.Holder, TimeProvider.System.GetUtcNow());
        var at = StoreText.Timestamp(handover.TakenAt);
        connection.Execute(
            """
            INSERT INTO leadership (role, generation, holder, since) VALUES (@role, @generation, @holder, @at)
            ON CONFLICT (role) DO UPDATE SET generation = excluded.generation, holder = excluded.holder, since = excluded.since
            """,
            new { role = Role, generation = handover.Generation, holder, at }, transaction);
        connection.Execute(
            """
            INSERT INTO handovers (role, generation, holder, previous_holder, taken_at)
            VALUES (@role, @generation, @holder, @previous_holder, @at)
            """,
            new { role = Role, generation = handover.Generation, holder, previous_holder = handover.PreviousHolder, at }, transaction);
        transaction.Commit();
        return handover;
    }

    // SQLite: an exclusive lock on a file beside the store (.NET takes flock(LOCK_EX) for FileShare.None); the kernel
    // releases it when the process dies. There is no blocking wait for it, so the standby tries again twice a second.
    private static async Task<FileStream> LockFileAsync(string path, Action waiting, CancellationToken cancellationToken)
    {
        var told = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                if (!told)
                {
                    waiting();
                    told = true;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }
    }

    // PostgreSQL: the lock is gone when its connection is; a connection that fails a trivial query may have dropped
    // (the server then released the lock, and a standby may hold it already), so the lease counts as lost.
    private async Task CheckAsync(NpgsqlConnection connection)
    {
        var stop = _stopChecking.Token;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(CheckInterval, stop).ConfigureAwait(false);
                await connection.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", commandTimeout: 10, cancellationToken: stop)).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Released.
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or OperationCanceledException)
        {
            MarkLost($"the orchestrator lease's connection to the store failed ({e.Message}); another orchestrator may hold it now");
        }
    }

    private void MarkLost(string reason)
    {
        lock (_lost)
        {
            if (LostReason is not null) return;
            LostReason = reason;
        }

        _lost.Cancel();
    }

    private const string HandoverColumns = "SELECT generation, holder, previous_holder, taken_at FROM handovers";

    private sealed record LeaseRow(long Generation, string Holder);

    private sealed record HandoverRow(long Generation, string Holder, string? PreviousHolder, string TakenAt)
    {
        public OrchestratorHandover ToRecord() => new(Generation, Holder, PreviousHolder, StoreText.ParseTimestamp(TakenAt));
    }
}
