using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.Versioning;
using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.Spool;
using FeedbackLoop.Sdk.Tests.Transports;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace FeedbackLoop.Sdk.Tests.Spool;

/// <summary>
/// The spool trusts only itself (issue 10, finding 9), on real files: a folder another user owns or could swap
/// is refused; links planted under the spool's file names never redirect a write; records the spool did not
/// sign, or that were altered behind their checksums, are skipped and counted (<c>spool_forged</c>), never
/// delivered, while the spool's own records still arrive exactly once. The pure folder decision is a table.
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class SpoolHardeningTests : IDisposable
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const uint Nobody = 65534;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly SpoolKey AttackerKey = SpoolKey.FromSecret("someone-else's-key-0123456789");

    private readonly string _root;
    private readonly string _spoolFolder;
    private readonly string _victim;
    private readonly FakeTimeProvider _clock = new();

    public SpoolHardeningTests()
    {
        _root = Path.Combine(Path.GetTempPath(), "feedbackloop-spool-hardening-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root, OwnerOnlyFolder);
        _spoolFolder = Path.Combine(_root, "spool");
        // Stands for a file the app's user can write but must never be made to: /etc/shadow for an app run as root.
        _victim = Path.Combine(_root, "victim");
        File.WriteAllText(_victim, "precious");
        File.SetUnixFileMode(_victim, OwnerOnlyFile);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    // ---- the folder decision, as a table ----

    private const uint Self = 1000;

    // The kind by name: PathKind is internal, and a public test method cannot take it.
    public static TheoryData<string, uint?, int, string?> Folders() => new()
    {
        { nameof(PathKind.Directory), Self, 0x1C0 /* 0700 */, null },
        { nameof(PathKind.Directory), null, 0x1C0, null }, // a platform that cannot tell the owner: the mode still counts
        { nameof(PathKind.SymbolicLink), Self, 0x1FF, "is a symbolic link" },
        { nameof(PathKind.File), Self, 0x180, "is not a folder" },
        { nameof(PathKind.Directory), Nobody, 0x1C0, "is owned by uid 65534, not by this process's user (uid 1000)" },
        { nameof(PathKind.Directory), 0, 0x1C0, "is owned by uid 0, not by this process's user (uid 1000)" },
        { nameof(PathKind.Directory), Self, 0x1E8 /* 0750 */, "open to other users (mode 0750)" },
        { nameof(PathKind.Directory), Self, 0x1F8 /* 0770 */, "open to other users (mode 0770)" },
        { nameof(PathKind.Directory), Self, 0x1C1 /* 0701 */, "open to other users (mode 0701)" },
    };

    [Theory]
    [MemberData(nameof(Folders))]
    public void The_spool_folder_must_be_a_real_folder_owned_by_this_user_and_closed_to_others(string kind, uint? owner, int mode, string? refusal)
    {
        var reason = SpoolFolderCheck.FolderRefusal("/srv/app/spool", new PathStatus(Enum.Parse<PathKind>(kind), owner, (UnixFileMode)mode), Self);

        AssertRefusal(refusal, reason);
    }

    public static TheoryData<uint?, int, string?> Parents() => new()
    {
        { 0, 0x1ED /* 0755, root's */, null },
        { Self, 0x1C0 /* 0700, ours */, null },
        { Self, 0x1ED, null },
        { null, 0x1ED, null },
        { Nobody, 0x1ED, "is owned by uid 65534, neither this process's user (uid 1000) nor root" },
        { Self, 0x1FD /* 0775 */, "lets other users write (mode 0775)" },
        { 0, 0x1FF /* 0777 */, "lets other users write (mode 0777)" },
        { 0, 0x3FF /* 01777: /tmp, sticky */, "lets other users write (mode 01777)" },
    };

    [Theory]
    [MemberData(nameof(Parents))]
    public void The_folder_above_must_be_this_users_or_roots_and_not_writable_by_others(uint? owner, int mode, string? refusal)
    {
        var reason = SpoolFolderCheck.ParentRefusal("/srv/app", new PathStatus(PathKind.Directory, owner, (UnixFileMode)mode), Self);

        AssertRefusal(refusal, reason);
    }

    // ---- the folder, for real ----

    [Fact]
    public void A_folder_another_user_owns_is_refused_and_nothing_is_written_into_it()
    {
        Directory.CreateDirectory(_spoolFolder, OwnerOnlyFolder);
        Chown(_spoolFolder, Nobody);

        var refusal = Assert.Throws<ArgumentException>(() => Open(new ScriptedTransport()));

        Assert.Equal("Spool.Directory", refusal.ParamName);
        Assert.Contains($"owned by uid 65534, not by this process's user (uid {UnixPathStatus.EffectiveUser})", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_spoolFolder));
    }

    [Fact]
    public void A_folder_under_a_parent_another_user_owns_is_refused_before_it_is_created()
    {
        var parent = Path.Combine(_root, "theirs");
        Directory.CreateDirectory(parent, OwnerOnlyFolder | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        Chown(parent, Nobody);

        var refusal = Assert.Throws<ArgumentException>(() => Open(new ScriptedTransport(), Path.Combine(parent, "spool")));

        Assert.Contains($"The folder above Spool.Directory ('{parent}') is owned by uid 65534", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(parent));
    }

    [Fact]
    public void A_group_writable_spool_folder_is_refused_with_its_mode()
    {
        Directory.CreateDirectory(_spoolFolder);
        File.SetUnixFileMode(_spoolFolder, OwnerOnlyFolder | UnixFileMode.GroupWrite | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);

        var refusal = Assert.Throws<ArgumentException>(() => Open(new ScriptedTransport()));

        Assert.Contains("open to other users (mode 0770)", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(_spoolFolder));
    }

    [Fact]
    public void A_spool_folder_under_a_group_writable_parent_is_refused_and_not_created()
    {
        var parent = Path.Combine(_root, "shared");
        Directory.CreateDirectory(parent);
        File.SetUnixFileMode(parent, OwnerOnlyFolder | UnixFileMode.GroupWrite | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
        var spool = Path.Combine(parent, "spool");

        var refusal = Assert.Throws<ArgumentException>(() => Open(new ScriptedTransport(), spool));

        Assert.Contains($"The folder above Spool.Directory ('{parent}') lets other users write (mode 0770)", refusal.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(spool));
    }

    [Fact]
    public void A_spool_folder_that_is_a_symbolic_link_is_refused()
    {
        var real = Path.Combine(_root, "real");
        Directory.CreateDirectory(real, OwnerOnlyFolder);
        Directory.CreateSymbolicLink(_spoolFolder, real);

        var refusal = Assert.Throws<ArgumentException>(() => Open(new ScriptedTransport()));

        Assert.Contains("is a symbolic link", refusal.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(real));
    }

    // ---- links under the spool's names ----

    [Theory]
    [InlineData("cursor.tmp")]
    [InlineData("cursor")]
    [InlineData("key")]
    [InlineData("lock")]
    [InlineData("00000000000000000007.seg")]
    public void A_link_planted_under_a_spool_file_name_refuses_the_folder_and_leaves_its_target_alone(string name)
    {
        Directory.CreateDirectory(_spoolFolder, OwnerOnlyFolder);
        File.CreateSymbolicLink(Path.Combine(_spoolFolder, name), _victim);

        var refusal = Assert.Throws<ArgumentException>(() => Open(new ScriptedTransport()));

        Assert.Contains($"holds '{name}' as a symbolic link", refusal.Message, StringComparison.Ordinal);
        AssertVictimUntouched();
    }

    [Fact]
    public async Task A_cursor_tmp_link_planted_while_the_spool_runs_never_redirects_the_cursor_write()
    {
        var events = ScriptedTransport.Events(0, 30);
        var inner = new ScriptedTransport { Down = true };
        await using var spool = Open(inner);
        Assert.Equal(30, (await spool.SendAsync(events, default)).Spooled);
        // The truncate-on-create open this replaces would have emptied the victim at the first cursor write.
        File.CreateSymbolicLink(Path.Combine(_spoolFolder, "cursor.tmp"), _victim);

        inner.Down = false;
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(events.Select(e => e.EventId), inner.DeliveredIds);
        AssertVictimUntouched();
        var cursor = new FileInfo(Path.Combine(_spoolFolder, "cursor"));
        Assert.Null(cursor.LinkTarget);
        Assert.Equal(OwnerOnlyFile, cursor.UnixFileMode);
        Assert.False(File.Exists(Path.Combine(_spoolFolder, "cursor.tmp")));
    }

    // ---- signed records ----

    [Fact]
    public async Task A_planted_segment_with_valid_checksums_but_no_or_a_foreign_MAC_is_never_delivered_and_is_counted()
    {
        var own = ScriptedTransport.Events(0, 5);
        await SpoolAndStop(own);
        var planted = new[] { ScriptedTransport.Event(900), ScriptedTransport.Event(901), ScriptedTransport.Event(902) };
        // 901 carries a MAC of someone else's key, 902 none at all (zeros); 900 too, in a segment of its own.
        File.WriteAllBytes(Path.Combine(_spoolFolder, "00000000000000000050.seg"), [.. Signed(planted[0], AttackerKey)]);
        File.WriteAllBytes(Path.Combine(_spoolFolder, "00000000000000000051.seg"), [.. Signed(planted[1], AttackerKey), .. Unsigned(planted[2])]);

        var inner = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        var logger = new RecordingLogger();
        await using var spool = Open(inner, logger: logger, counters: counters);
        Assert.True(await spool.DrainAsync(Patience, default));

        Assert.Equal(own.Select(e => e.EventId), inner.DeliveredIds);
        Assert.Equal(3, counters.Dropped(DropReason.SpoolForged));
        Assert.Equal(0, counters.Dropped(DropReason.SpoolCorrupt));
        Assert.Equal(3, logger.Entries.Count(e => e.Message.Contains("MAC does not verify", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_record_altered_behind_fixed_up_checksums_is_skipped_and_counted_and_the_rest_arrive_exactly_once()
    {
        var events = ScriptedTransport.Events(0, 10);
        await SpoolAndStop(events);
        var segment = Assert.Single(Directory.GetFiles(_spoolFolder, "*.seg"));
        var bytes = File.ReadAllBytes(segment);
        var record = bytes.AsSpan(3 * RecordBytes, RecordBytes).ToArray();
        record[SpoolRecord.HeaderSize + 8 + 30] ^= 0x01; // one byte of record 3's JSON
        SpoolFormatTests.FixChecksums(record);
        record.CopyTo(bytes, 3 * RecordBytes);
        File.WriteAllBytes(segment, bytes);

        var inner = new ScriptedTransport();
        var counters = new FeedbackClientCounters();
        await using (var spool = Open(inner, counters: counters))
        {
            Assert.True(await spool.DrainAsync(Patience, default));
        }
        // A restart after delivery sends nothing again.
        var again = new ScriptedTransport();
        await using (var restarted = Open(again))
        {
            Assert.True(await restarted.DrainAsync(Patience, default));
        }

        Assert.Equal(events.Where((_, i) => i != 3).Select(e => e.EventId), inner.DeliveredIds);
        Assert.Empty(again.DeliveredIds);
        Assert.Equal(1, counters.Dropped(DropReason.SpoolForged));
    }

    [Fact]
    public async Task Records_spooled_under_one_configured_key_are_not_delivered_under_another_and_are_under_their_own()
    {
        var events = ScriptedTransport.Events(0, 4);
        var keyA = new SpoolOptions { Directory = _spoolFolder, IntegrityKey = "key-A-0123456789abcdef" };
        var keyB = keyA with { IntegrityKey = "key-B-0123456789abcdef" };
        await SpoolAndStop(events, keyA);
        // A configured key stays out of the folder.
        Assert.False(File.Exists(Path.Combine(_spoolFolder, "key")));

        var underB = new ScriptedTransport { Down = true };
        var counters = new FeedbackClientCounters();
        await using (var spool = Open(underB, options: keyB, counters: counters))
        {
            underB.Down = false;
            Assert.True(await spool.DrainAsync(Patience, default));
        }
        Assert.Empty(underB.DeliveredIds);
        Assert.Equal(4, counters.Dropped(DropReason.SpoolForged));
    }

    [Fact]
    public async Task A_generated_key_is_32_bytes_owner_only_and_one_others_may_have_read_is_refused()
    {
        await SpoolAndStop(ScriptedTransport.Events(0, 1));
        var key = new FileInfo(Path.Combine(_spoolFolder, "key"));
        Assert.Equal(32, key.Length);
        Assert.Equal(OwnerOnlyFile, key.UnixFileMode);

        File.SetUnixFileMode(key.FullName, OwnerOnlyFile | UnixFileMode.OtherRead);
        var refusal = Assert.Throws<InvalidOperationException>(() => Open(new ScriptedTransport()));

        Assert.Contains("the spool key file 'key' is not an owner-only plain file", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_segment_of_the_unsigned_format_1_refuses_the_spool_with_the_way_out()
    {
        await SpoolAndStop(ScriptedTransport.Events(0, 1));
        var record = Unsigned(ScriptedTransport.Event(1));
        record[4] = 1; // what the previous SDK version wrote: format 1, a CRC and no MAC
        File.WriteAllBytes(Path.Combine(_spoolFolder, "00000000000000000040.seg"), record);

        var refusal = Assert.Throws<InvalidOperationException>(() => Open(new ScriptedTransport()));

        Assert.Contains("segment files of spool format 1", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("move the *.seg files", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Through_the_client_a_forged_record_shows_on_the_dropped_metric_as_spool_forged()
    {
        var appId = "forged-" + Guid.NewGuid().ToString("N")[..8];
        var first = new RecordingTransport();
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = appId, Spool = new SpoolOptions { Directory = _spoolFolder } }, first))
        {
            Assert.True(client.Copied("s1", "u1", "g-1"));
            Assert.True(await client.FlushAsync(Patience));
        }
        var forged = new FeedbackEvent("forged-1", appId, "s1", "u1", DateTimeOffset.UtcNow, new GenerationAccepted("g-1"));
        var json = EventJson.SerializeToUtf8Bytes(forged);
        File.WriteAllBytes(Path.Combine(_spoolFolder, "00000000000000000090.seg"), Signed(new SerializedEvent("forged-1", "s1", json), AttackerKey));

        var second = new RecordingTransport();
        await using (var client = new FeedbackClient(new FeedbackClientOptions { AppId = appId, Spool = new SpoolOptions { Directory = _spoolFolder } }, second))
        {
            Assert.True(client.Copied("s1", "u1", "g-2"));
            await Eventually.HoldsAsync(() => client.Counters.Sent == 1 && client.Counters.Dropped(DropReason.SpoolForged) == 1, Patience);
            Assert.Equal(1, DroppedMetric(appId, "spool_forged"));
        }

        Assert.Single(first.Events);
        Assert.DoesNotContain(second.Events, e => e.EventId == "forged-1");
        Assert.Single(second.Events);
    }

    // A record of ScriptedTransport.Event: 24 header + 6 id + 2 session + 64 JSON + 32 MAC.
    private const int RecordBytes = 128;

    private static void AssertRefusal(string? expected, string? reason)
    {
        if (expected is null)
        {
            Assert.Null(reason);
            return;
        }
        Assert.NotNull(reason);
        Assert.Contains(expected, reason, StringComparison.Ordinal);
    }

    private void AssertVictimUntouched()
    {
        Assert.Equal("precious", File.ReadAllText(_victim));
        Assert.Equal(OwnerOnlyFile, File.GetUnixFileMode(_victim));
    }

    private SpoolingTransport Open(ScriptedTransport inner, string? folder = null, SpoolOptions? options = null, FeedbackClientCounters? counters = null, RecordingLogger? logger = null) =>
        new(inner, options ?? new SpoolOptions { Directory = folder ?? _spoolFolder }, counters ?? new FeedbackClientCounters(), _clock,
            (Microsoft.Extensions.Logging.ILogger?)logger ?? NullLogger.Instance);

    private async Task SpoolAndStop(List<SerializedEvent> events, SpoolOptions? options = null)
    {
        await using var spool = Open(new ScriptedTransport { Down = true }, options: options);
        Assert.Equal(events.Count, (await spool.SendAsync(events, default)).Spooled);
    }

    private static byte[] Signed(SerializedEvent evt, SpoolKey key)
    {
        Assert.True(SpoolRecord.TryMeasure(evt, out var size));
        var record = new byte[size];
        SpoolRecord.Write(record, evt, key);
        return record;
    }

    // Valid header and payload checksums, and no MAC: what a forger without the key can make.
    private static byte[] Unsigned(SerializedEvent evt)
    {
        var record = Signed(evt, AttackerKey);
        record.AsSpan(record.Length - SpoolRecord.TrailerSize).Clear();
        SpoolFormatTests.FixChecksums(record);
        return record;
    }

    // Giving a folder to another user needs root. The test command already needs root or sudo (it installs RabbitMQ
    // that way), so a non-root run uses passwordless sudo rather than skipping these tests.
    private static void Chown(string path, uint uid)
    {
        var owner = uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var start = Environment.IsPrivilegedProcess
            ? new ProcessStartInfo("chown", [owner, path])
            : new ProcessStartInfo("sudo", ["-n", "chown", owner, path]);
        start.RedirectStandardError = true;
        using var chown = Process.Start(start)!;
        chown.WaitForExit();
        Assert.True(chown.ExitCode == 0, $"{start.FileName} {string.Join(' ', start.ArgumentList)} failed (these tests need root or passwordless sudo, as ./test.sh does): {chown.StandardError.ReadToEnd()}");
    }

    private static long DroppedMetric(string appId, string reason)
    {
        var seen = new ConcurrentDictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "FeedbackLoop.Sdk" && instrument.Name == "feedbackloop.sdk.events.dropped") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? app = null, tag = null;
            foreach (var t in tags)
            {
                if (t.Key == "app_id") app = t.Value as string;
                if (t.Key == "reason") tag = t.Value as string;
            }
            if (app == appId && tag is not null) seen[tag] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return seen.GetValueOrDefault(reason);
    }
}
