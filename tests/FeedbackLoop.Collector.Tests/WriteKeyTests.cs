using FeedbackLoop.Collector.Keys;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Collector.Tests;

/// <summary>Write keys (issue 12, item 1): their shape, the keys file, and what the collector makes of a bearer token.</summary>
public sealed class WriteKeyTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private readonly TempFolder _folder = new("write-keys");

    [Fact]
    public void A_new_key_is_well_formed_random_and_names_its_id()
    {
        var (id, key) = WriteKey.Create();
        var (otherId, other) = WriteKey.Create();

        Assert.Equal(WriteKey.Length, key.Length);
        Assert.Equal(id, WriteKey.IdOf(key));
        Assert.NotEqual(id, otherId);
        Assert.NotEqual(key[^WriteKey.SecretLength..], other[^WriteKey.SecretLength..]);
        Assert.True(WriteKey.Matches(key, WriteKey.Hash(key)));
        Assert.False(WriteKey.Matches(other, WriteKey.Hash(key)));
    }

    [Theory]
    [InlineData("flk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "0123456789ab")]
    [InlineData("flk_0123456789ab_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-", "0123456789ab")]
    [InlineData("", null)]
    [InlineData("flk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", null)] // one short
    [InlineData("flk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", null)] // one long
    [InlineData("FLK_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", null)] // prefix case
    [InlineData("flk_0123456789AB_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", null)] // id not lower hex
    [InlineData("flk_0123456789ag_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", null)] // id not hex
    [InlineData("flk_0123456789ab-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", null)] // separator
    [InlineData("flk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+", null)] // base64, not base64url
    [InlineData("flk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", null)] // padding
    [InlineData("flk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\u00e9", null)] // not ASCII
    [InlineData("flk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\0", null)] // NUL
    public void Key_shape(string key, string? expectedId) => Assert.Equal(expectedId, WriteKey.IdOf(key));

    [Fact]
    public void The_file_holds_hashes_only_is_owner_only_and_leaves_no_temporary()
    {
        var file = new WriteKeyFile(_folder.Combine("sub", "keys.json"));

        var (record, key) = file.Create("demo", Now);

        var text = File.ReadAllText(file.Path);
        Assert.DoesNotContain(key[^WriteKey.SecretLength..], text, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(WriteKey.Hash(key)), text, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file.Path));
        Assert.Equal([record], file.Read());
        Assert.Empty(Directory.GetFiles(_folder.Combine("sub"), "*.partial", SearchOption.AllDirectories));
    }

    [Fact]
    public void Two_keys_of_an_app_may_be_active_a_third_is_refused_until_one_is_revoked()
    {
        var file = new WriteKeyFile(_folder.Combine("keys.json"));
        var first = file.Create("demo", Now).Record;
        file.Create("demo", Now);
        file.Create("other", Now);

        var refused = Assert.Throws<ArgumentException>(() => file.Create("demo", Now));
        Assert.Contains("2 active keys", refused.Message, StringComparison.Ordinal);

        Assert.True(file.Revoke(first.KeyId, Now.AddMinutes(1)));
        Assert.False(file.Revoke(first.KeyId, Now.AddMinutes(2)));
        Assert.Equal(Now.AddMinutes(1), file.Read().Single(k => k.KeyId == first.KeyId).RevokedAt);
        file.Create("demo", Now);
        Assert.Equal(3, file.Read().Count(k => k.Active));
        Assert.Throws<ArgumentException>(() => file.Revoke("000000000000", Now));
    }

    [Theory]
    [InlineData("")]
    [InlineData("Demo")]
    [InlineData("-rf")]
    [InlineData("../x")]
    public void An_app_id_that_breaks_the_rule_gets_no_key(string app)
    {
        var file = new WriteKeyFile(_folder.Combine("keys.json"));
        Assert.Throws<ArgumentException>(() => file.Create(app, Now));
        Assert.False(File.Exists(file.Path));
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("""{"keys":[{"key_id":"x"}]}""")]
    [InlineData("""{"keys":[{"key_id":"0123456789ab","app_id":"demo","created_at":"2026-01-01T00:00:00Z","sha256":"zz"}]}""")]
    public void A_file_that_is_not_a_keys_file_is_refused_without_quoting_it(string content)
    {
        var path = _folder.Combine("keys.json");
        File.WriteAllText(path, content);
        var e = Assert.Throws<InvalidDataException>(() => new WriteKeyFile(path).Read());
        Assert.DoesNotContain("zz", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string?, string?> Tokens => new()
    {
        { "no header", null, Refusals.MissingKey },
        { "empty header", "", Refusals.MissingKey },
        { "basic scheme", "Basic {demo}", Refusals.MalformedKey },
        { "no scheme", "{demo}", Refusals.MalformedKey },
        { "garbled", "Bearer flk_garbage", Refusals.MalformedKey },
        { "key cut short", "Bearer {demo-cut}", Refusals.MalformedKey },
        { "unknown id", "Bearer flk_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Refusals.UnknownKey },
        { "known id, wrong secret", "Bearer {demo-wrong-secret}", Refusals.UnknownKey },
        { "revoked", "Bearer {revoked}", Refusals.RevokedKey },
        { "valid", "Bearer {demo}", null },
        { "scheme in lower case", "bearer {demo}", null },
        { "rotation: the second key", "Bearer {demo-2}", null },
        { "another app's key", "Bearer {other}", null },
    };

    [Theory]
    [MemberData(nameof(Tokens))]
    public void Bearer_tokens(string what, string? header, string? refusal)
    {
        var file = new WriteKeyFile(_folder.Combine("keys.json"));
        var keys = new Dictionary<string, string>
        {
            ["demo"] = file.Create("demo", Now).Key,
            ["demo-2"] = file.Create("demo", Now).Key,
            ["other"] = file.Create("other", Now).Key,
        };
        var (revoked, revokedKey) = file.Create("gone", Now);
        file.Revoke(revoked.KeyId, Now);
        keys["revoked"] = revokedKey;
        keys["demo-cut"] = keys["demo"][..^1];
        keys["demo-wrong-secret"] = keys["demo"][..^1] + (keys["demo"][^1] == 'A' ? 'B' : 'A');
        using var metrics = new CollectorMetrics(null, () => 0);
        var ring = new KeyRing(file, TimeSpan.FromSeconds(1), new FakeTimeProvider(Now), metrics, NullLogger.Instance);
        var filled = header;
        foreach (var (name, key) in keys) filled = filled?.Replace("{" + name + "}", key, StringComparison.Ordinal);

        var check = ring.Check(filled);

        Assert.True(refusal == check.Refusal, what);
        if (refusal is null) Assert.Equal(what.Contains("another", StringComparison.Ordinal) ? "other" : "demo", check.AppId);
        else Assert.Null(check.AppId);
    }

    [Fact]
    public void A_running_collector_sees_a_revocation_and_a_new_key_once_the_reload_interval_passed()
    {
        var file = new WriteKeyFile(_folder.Combine("keys.json"));
        var (record, key) = file.Create("demo", Now);
        var clock = new FakeTimeProvider(Now);
        using var metrics = new CollectorMetrics(null, () => 0);
        var ring = new KeyRing(file, TimeSpan.FromSeconds(1), clock, metrics, NullLogger.Instance);
        Assert.Null(ring.Check("Bearer " + key).Refusal);

        file.Revoke(record.KeyId, Now);
        var added = file.Create("demo", Now).Key;
        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(Refusals.RevokedKey, ring.Check("Bearer " + key).Refusal);
        Assert.Equal("demo", ring.Check("Bearer " + added).AppId);
    }

    [Fact]
    public void A_broken_rewrite_keeps_the_keys_loaded_and_is_counted()
    {
        var file = new WriteKeyFile(_folder.Combine("keys.json"));
        var key = file.Create("demo", Now).Key;
        var clock = new FakeTimeProvider(Now);
        using var metrics = new CollectorMetrics(null, () => 0);
        var ring = new KeyRing(file, TimeSpan.FromSeconds(1), clock, metrics, NullLogger.Instance);

        File.WriteAllText(file.Path, "{ broken");
        clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("demo", ring.Check("Bearer " + key).AppId);
    }

    public void Dispose() => _folder.Dispose();
}
