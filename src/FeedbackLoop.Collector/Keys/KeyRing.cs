using System.Collections.Frozen;
using Microsoft.Extensions.Logging;

namespace FeedbackLoop.Collector.Keys;

/// <summary>What the bearer token of a request is: an app's key, or the reason it is not.</summary>
internal readonly record struct KeyCheck(string? AppId, string? Refusal)
{
    public static KeyCheck For(string appId) => new(appId, null);

    public static KeyCheck Refused(string reason) => new(null, reason);
}

/// <summary>
/// The collector's view of the keys file: active keys by id. The file is read again when it changed (checked at most
/// once per <c>reloadInterval</c>, on a request), so <c>keys create</c> and <c>keys revoke</c> take effect in a running
/// collector without a restart. A file that cannot be read keeps the keys last loaded, and the failure is counted and logged.
/// </summary>
internal sealed partial class KeyRing
{
    private readonly WriteKeyFile _file;
    private readonly TimeSpan _reloadInterval;
    private readonly TimeProvider _time;
    private readonly CollectorMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Lock _reload = new();
    private volatile Loaded _loaded;
    private long _nextCheck;

    /// <summary>Loads the file; a missing or unreadable file is an error here (the collector would refuse every request).</summary>
    public KeyRing(WriteKeyFile file, TimeSpan reloadInterval, TimeProvider time, CollectorMetrics metrics, ILogger logger)
    {
        _file = file;
        _reloadInterval = reloadInterval;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        if (!File.Exists(file.Path)) throw new FileNotFoundException($"the keys file {file.Path} does not exist: create a key with 'feedbackloop keys create --app <app> --keys {file.Path}'.");
        _loaded = Load();
        _nextCheck = time.GetTimestamp();
    }

    /// <summary>Active keys now loaded.</summary>
    public int ActiveKeys => _loaded.Keys.Count;

    /// <summary>Checks an <c>Authorization</c> header value; the reasons are fixed codes, never the token.</summary>
    public KeyCheck Check(string? authorization)
    {
        ReloadIfChanged();
        if (string.IsNullOrEmpty(authorization)) return KeyCheck.Refused(Refusals.MissingKey);
        const string bearer = "Bearer ";
        if (!authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)) return KeyCheck.Refused(Refusals.MalformedKey);
        var token = authorization.AsSpan(bearer.Length).Trim(' ');
        if (WriteKey.IdOf(token) is not { } id) return KeyCheck.Refused(Refusals.MalformedKey);
        var loaded = _loaded;
        if (loaded.Keys.TryGetValue(id, out var key))
        {
            return WriteKey.Matches(token, key.Hash) ? KeyCheck.For(key.AppId) : KeyCheck.Refused(Refusals.UnknownKey);
        }
        return KeyCheck.Refused(loaded.Revoked.Contains(id) ? Refusals.RevokedKey : Refusals.UnknownKey);
    }

    private void ReloadIfChanged()
    {
        var now = _time.GetTimestamp();
        if (now < Volatile.Read(ref _nextCheck) || !_reload.TryEnter()) return;
        try
        {
            Volatile.Write(ref _nextCheck, now + (long)(_reloadInterval.TotalSeconds * _time.TimestampFrequency));
            var stamp = Stamp();
            if (stamp == _loaded.Stamp) return;
            _loaded = Load();
        }
#pragma warning disable CA1031 // A bad rewrite of the file must not stop the collector: it keeps the keys it has.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
#pragma warning restore CA1031
        {
            _metrics.KeyReloadFailed();
            LogReloadFailed(_logger, e.GetType().Name);
        }
        finally
        {
            _reload.Exit();
        }
    }

    private Loaded Load()
    {
        var stamp = Stamp();
        var records = _file.Read();
        var keys = records.Where(r => r.Active).ToFrozenDictionary(r => r.KeyId, r => new ActiveKey(r.AppId, Convert.FromHexString(r.Sha256)), StringComparer.Ordinal);
        var revoked = records.Where(r => !r.Active).Select(r => r.KeyId).ToFrozenSet(StringComparer.Ordinal);
        return new Loaded(stamp, keys, revoked);
    }

    private (DateTime, long) Stamp()
    {
        var info = new FileInfo(_file.Path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1);
    }

    private sealed record ActiveKey(string AppId, byte[] Hash);

    private sealed record Loaded((DateTime, long) Stamp, FrozenDictionary<string, ActiveKey> Keys, FrozenSet<string> Revoked);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the keys file could not be read again ({Error}); the keys loaded before stay in use")]
    private static partial void LogReloadFailed(ILogger logger, string error);
}
