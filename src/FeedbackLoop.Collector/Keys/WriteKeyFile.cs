using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using FeedbackLoop.Contracts;

namespace FeedbackLoop.Collector.Keys;

/// <summary>One stored write key: never the key itself, only its SHA-256.</summary>
internal sealed record WriteKeyRecord(
    [property: JsonPropertyName("key_id")] string KeyId,
    [property: JsonPropertyName("app_id")] string AppId,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("revoked_at")] DateTimeOffset? RevokedAt = null)
{
    [JsonIgnore]
    public bool Active => RevokedAt is null;
}

/// <summary>The keys file's document.</summary>
internal sealed record WriteKeyDocument([property: JsonPropertyName("keys")] IReadOnlyList<WriteKeyRecord> Keys);

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(WriteKeyDocument))]
internal sealed partial class WriteKeyJsonContext : JsonSerializerContext;

/// <summary>
/// The keys file: JSON, an <see cref="OwnerOnlyFile"/> (0600, rewritten whole under a writers' lock), so the collector
/// reloading it sees the old or the new file, never half of one, and two <c>keys</c> commands cannot lose a change.
/// </summary>
internal sealed class WriteKeyFile(string path)
{
    /// <summary>How many keys of one app may be active at once: the old and the new during a rotation.</summary>
    public const int MaxActivePerApp = 2;

    public string Path { get; } = System.IO.Path.GetFullPath(path);

    /// <summary>The stored keys; none when the file does not exist yet.</summary>
    /// <exception cref="InvalidDataException">The file is not a keys file; the message says so without quoting it.</exception>
    public IReadOnlyList<WriteKeyRecord> Read()
    {
        if (!File.Exists(Path)) return [];
        WriteKeyDocument? document;
        try
        {
            document = JsonSerializer.Deserialize(File.ReadAllBytes(Path), WriteKeyJsonContext.Default.WriteKeyDocument);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{Path} is not a keys file (line {(e.LineNumber ?? 0) + 1}).", e);
        }
        if (document?.Keys is not { } keys || keys.Any(k => k is null || !IsWellFormed(k)))
            throw new InvalidDataException($"{Path} is not a keys file: every key needs key_id, app_id, created_at and sha256.");
        return keys;
    }

    /// <summary>Makes a key for <paramref name="appId"/>, stores its hash and returns the record and the key (the only time it exists in the clear).</summary>
    /// <exception cref="ArgumentException">The app id breaks the rule, or the app already has two active keys.</exception>
    public (WriteKeyRecord Record, string Key) Create(string appId, DateTimeOffset now)
    {
        if (!AppIds.IsValid(appId)) throw new ArgumentException($"--app must be {AppIds.Rule}.");
        return Update<(WriteKeyRecord, string)>(keys =>
        {
            if (keys.Count(k => k.AppId == appId && k.Active) >= MaxActivePerApp)
            {
                throw new ArgumentException(
                    $"app {appId} already has {MaxActivePerApp} active keys (a rotation's old and new): revoke one with 'keys revoke <key-id>' first.");
            }
            string id, key;
            do (id, key) = WriteKey.Create();
            while (keys.Any(k => k.KeyId == id));
            var record = new WriteKeyRecord(id, appId, now.ToUniversalTime(), Convert.ToHexStringLower(WriteKey.Hash(key)));
            keys.Add(record);
            return (keys, (record, key));
        });
    }

    /// <summary>Revokes a key; true when it was active, false when it was already revoked.</summary>
    /// <exception cref="ArgumentException">No key has this id.</exception>
    public bool Revoke(string keyId, DateTimeOffset now) => Update(keys =>
    {
        var index = keys.FindIndex(k => k.KeyId == keyId);
        if (index < 0) throw new ArgumentException("no key has this id (see 'keys list').");
        if (!keys[index].Active) return (keys, false);
        keys[index] = keys[index] with { RevokedAt = now.ToUniversalTime() };
        return (keys, true);
    });

    private T Update<T>(Func<List<WriteKeyRecord>, (List<WriteKeyRecord> Keys, T Result)> change)
    {
        using var writerLock = OwnerOnlyFile.Lock(Path);
        var (keys, result) = change([.. Read()]);
        OwnerOnlyFile.Replace(Path, stream => JsonSerializer.Serialize(stream, new WriteKeyDocument(keys), WriteKeyJsonContext.Default.WriteKeyDocument));
        return result;
    }

    private static bool IsWellFormed(WriteKeyRecord k) =>
        k.KeyId is { Length: WriteKey.IdLength } && AppIds.IsValid(k.AppId) && k.Sha256 is { Length: 64 } && k.Sha256.All(Uri.IsHexDigit);

    /// <summary>One line per key for <c>keys list</c>: id, app, created, state.</summary>
    public static string Describe(WriteKeyRecord k) => string.Create(CultureInfo.InvariantCulture,
        $"{k.KeyId}  {k.AppId}  {EventJson.FormatTimestamp(k.CreatedAt)}  {(k.Active ? "active" : "revoked " + EventJson.FormatTimestamp(k.RevokedAt!.Value))}");
}
