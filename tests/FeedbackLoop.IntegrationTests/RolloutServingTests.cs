using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FeedbackLoop.Collector;
using FeedbackLoop.Contracts.Datasets;
using FeedbackLoop.Core.Rollouts;
using FeedbackLoop.IntegrationTests.Support;
using FeedbackLoop.Kafka.Embedded;
using FeedbackLoop.Orchestration.Registry;
using FeedbackLoop.Pipelines;
using FeedbackLoop.Sdk.Models;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// Issue 14, items 1 and 3: <c>GET /v1/apps/{app}/model</c> on a real collector (Kestrel, the embedded Kafka cluster)
/// reading a real store, and <c>models rollouts</c> as a process on that store.
/// </summary>
[Collection(CollectorTests.Collection)]
public sealed class RolloutServingTests : IAsyncLifetime, IDisposable
{
    private readonly EmbeddedKafkaCluster _cluster = EmbeddedKafkaCluster.Start(brokers: 1);
    private readonly TempFolder _folder = new("rollout-serving");
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private ModelRegistry _registry = null!;
    private CollectorUnderTest _collector = null!;
    private string _shopKey = "";
    private string _otherKey = "";

    public async Task InitializeAsync()
    {
        var keys = new Collector.Keys.WriteKeyFile(_folder.Combine("keys.json"));
        _shopKey = keys.Create("shop", DateTimeOffset.UtcNow).Key;
        _otherKey = keys.Create("other", DateTimeOffset.UtcNow).Key;
        _registry = new ModelRegistry(_folder.Combine("registry.db"));
        var half = new RolloutSettings(50, TimeSpan.FromHours(1));
        _registry.Promote(Candidate(100), half);
        _registry.Promote(Candidate(200), half);
        // Read the store on every request: the test sees a change at once, without waiting out a cache.
        _collector = await CollectorUnderTest.StartAsync(_cluster.BootstrapServers, _folder.Combine("keys.json"),
            o => o with { ServingCacheFor = TimeSpan.Zero }, new ModelRegistry(_folder.Combine("registry.db")));
    }

    public async Task DisposeAsync() => await _collector.DisposeAsync();

    public void Dispose()
    {
        _http.Dispose();
        _cluster.Dispose();
        _folder.Dispose();
    }

    private string Candidate(int n)
    {
        var version = $"shop-m{n}";
        _registry.TryStartRun($"shop-run-{n}", "shop", new DatasetSnapshot("shop", [new SnapshotFile("p.parquet", n)]));
        _registry.RegisterCandidate(new ModelVersionRecord(version, "shop", null, $"shop-run-{n}", "[]", $"models/{version}", "{}", ModelStatus.Candidate, DateTimeOffset.UtcNow));
        _registry.RecordDecision(version, true, 0.7, null, 0, null, "passed", DateTimeOffset.UtcNow);
        _registry.CompleteRun($"shop-run-{n}", RunStatus.Completed, "done");
        return version;
    }

    private async Task<HttpResponseMessage> GetAsync(string app, string? session, string key, string? etag = null)
    {
        var query = session is null ? "" : $"?session_id={Uri.EscapeDataString(session)}";
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_collector.Url, ModelEndpoint.PathOf(app) + query));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (etag is not null) request.Headers.IfNoneMatch.Add(EntityTagHeaderValue.Parse(etag));
        return await _http.SendAsync(request);
    }

    [Fact]
    public async Task Each_session_gets_the_resolvers_sticky_answer_with_an_etag_and_a_change_reaches_it()
    {
        var expected = _registry.Serving("shop");
        var variants = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            using var answer = await GetAsync("shop", $"session-{i}", _shopKey);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
            var want = ModelResolver.Resolve(expected, $"session-{i}")!;
            Assert.Equal((want.Version, want.Artifact, want.VariantText, "shop-m200-canary"),
                (json.RootElement.GetProperty("version").GetString(), json.RootElement.GetProperty("artifact").GetString(),
                 json.RootElement.GetProperty("variant").GetString(), json.RootElement.GetProperty("rollout_id").GetString()));
            variants.Add(want.VariantText);
        }

        Assert.Equal(["canary", "stable"], variants.Order());

        // Polling with the ETag: 304 while nothing changed.
        var canarySession = Enumerable.Range(0, 100).Select(i => $"session-{i}")
            .First(s => ModelResolver.Resolve(expected, s)!.Variant == ServingVariant.Canary);
        using var first = await GetAsync("shop", canarySession, _shopKey);
        var etag = first.Headers.ETag!.Tag;
        using var again = await GetAsync("shop", canarySession, _shopKey, etag);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Empty(await again.Content.ReadAsByteArrayAsync());

        // A rollback changes the answer: the same ETag now gets the stable model, no rollout.
        _registry.EndRolloutByPerson("shop-m200-canary", promote: false, "ana", "tone regression");
        using var changed = await GetAsync("shop", canarySession, _shopKey, etag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        Assert.NotEqual(etag, changed.Headers.ETag!.Tag);
        using var after = JsonDocument.Parse(await changed.Content.ReadAsStringAsync());
        Assert.Equal(("shop-m100", "stable", JsonValueKind.Null),
            (after.RootElement.GetProperty("version").GetString(), after.RootElement.GetProperty("variant").GetString(), after.RootElement.GetProperty("rollout_id").ValueKind));
    }

    private FeedbackModelResolver Resolver(Uri collector) => new(
        new CollectorModelSource(_http, collector, "shop", _shopKey, TimeSpan.FromSeconds(5)),
        // Every call past the first asks again, so the outage below is met by real failed fetches.
        new ModelResolverOptions { Fallback = new ModelChoice("base", "provider/base", null, null), RefreshAfter = TimeSpan.Zero });

    [Fact]
    public async Task The_SDK_resolver_keeps_serving_through_a_collector_outage_and_a_restarted_one_assigns_the_same_sessions_alike()
    {
        var sessions = Enumerable.Range(0, 12).Select(i => $"session-{i}").ToList();
        var expected = sessions.ToDictionary(s => s, s => ModelResolver.Resolve(_registry.Serving("shop"), s)!);
        Dictionary<string, ModelChoice> before;
        using (var resolver = Resolver(_collector.Url))
        {
            // Nothing fetched yet: the first call starts the fetch and gets the fallback at once, never waiting. Until the
            // collector's answer arrives (how soon depends on the machine) later calls get the fallback too, then that answer.
            var fallback = new ModelChoice("base", "provider/base", null, null);
            Assert.Equal(fallback, resolver.Resolve(sessions[0]));
            Assert.All(sessions.Skip(1), s => Assert.True(resolver.Resolve(s) is var early
                && (early == fallback || (early.Version, early.Variant, early.RolloutId) == (expected[s].Version, expected[s].VariantText, expected[s].RolloutId)),
                $"{s}: {resolver.Resolve(s)}"));
            Assert.True(await Eventually.TrueAsync(() => resolver.Counters.Answers >= sessions.Count, TimeSpan.FromSeconds(30)), $"answers: {resolver.Counters.Answers}");
            before = sessions.ToDictionary(s => s, resolver.Resolve);
            Assert.All(sessions, s => Assert.Equal((expected[s].Version, expected[s].VariantText, expected[s].RolloutId),
                (before[s].Version, before[s].Variant, before[s].RolloutId)));

            // The collector goes away: every call still gets its session's last answer, and the failed fetches are counted.
            await _collector.DisposeAsync();
            Assert.True(await Eventually.TrueAsync(() =>
            {
                Assert.All(sessions, s => Assert.Equal(before[s], resolver.Resolve(s)));
                return resolver.Counters.Failures >= sessions.Count;
            }, TimeSpan.FromSeconds(30)), $"failures: {resolver.Counters.Failures}");
        }

        // A new collector on the same store and a new resolver (an app restart): the same sessions get the same models.
        _collector = await CollectorUnderTest.StartAsync(_cluster.BootstrapServers, _folder.Combine("keys.json"),
            o => o with { ServingCacheFor = TimeSpan.Zero }, new ModelRegistry(_folder.Combine("registry.db")));
        using var restarted = Resolver(_collector.Url);
        sessions.ForEach(s => restarted.Resolve(s));
        Assert.True(await Eventually.TrueAsync(() => restarted.Counters.Answers >= sessions.Count, TimeSpan.FromSeconds(30)));
        Assert.All(sessions, s => Assert.Equal(before[s], restarted.Resolve(s)));
    }

    [Theory]
    [InlineData("another app's key", "shop", "session-1", "other", HttpStatusCode.Forbidden, "other_app")]
    [InlineData("no session id", "shop", null, "shop", HttpStatusCode.BadRequest, "missing_session_id")]
    [InlineData("a session id over 128 characters", "shop", "long", "shop", HttpStatusCode.BadRequest, "missing_session_id")]
    [InlineData("not a key", "shop", "session-1", "none", HttpStatusCode.Unauthorized, "malformed_key")]
    [InlineData("an app with no model yet, its own key", "other", "session-1", "other", HttpStatusCode.NotFound, "no_model")]
    public async Task Refusals_name_their_reason(string situation, string app, string? session, string key, HttpStatusCode status, string error)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        var token = key switch { "shop" => _shopKey, "other" => _otherKey, _ => "not-a-key" };
        using var answer = await GetAsync(app, session == "long" ? new string('s', 129) : session, token);

        Assert.Equal(status, answer.StatusCode);
        using var json = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal(error, json.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Models_rollouts_lists_the_rollout_and_a_person_rolls_it_back_from_the_CLI()
    {
        var store = _folder.Combine("registry.db");
        var (listed, listOut) = await ServeJobProcesses.CliAsync("models", "rollouts", "--app", "shop", "--json", "--store", store);
        Assert.True(listed == 0, listOut);
        using (var json = JsonDocument.Parse(listOut))
        {
            var rollout = Assert.Single(json.RootElement.EnumerateArray());
            Assert.Equal(("shop-m200-canary", "shop-m200", "shop-m100", 50, "active"),
                (rollout.GetProperty("rollout_id").GetString(), rollout.GetProperty("version").GetString(), rollout.GetProperty("stable_version").GetString(),
                 rollout.GetProperty("canary_percent").GetInt32(), rollout.GetProperty("state").GetString()));
        }

        var (unexplained, unexplainedOut) = await ServeJobProcesses.CliAsync("models", "rollouts", "rollback", "shop-m200-canary", "--store", store);
        var (rolled, rolledOut) = await ServeJobProcesses.CliAsync(
            "models", "rollouts", "rollback", "shop-m200-canary", "--reason", "refund answers got worse", "--by", "ana", "--store", store);

        Assert.NotEqual(0, unexplained);
        Assert.Contains("--reason", unexplainedOut, StringComparison.Ordinal);
        Assert.True(rolled == 0, rolledOut);
        Assert.Contains("rolled back shop-m200-canary: every session gets shop-m100", rolledOut, StringComparison.Ordinal);
        Assert.Equal(RolloutState.RolledBack, _registry.GetRollout("shop-m200-canary")!.State);
        var announcement = Assert.Single(_registry.UnannouncedActions(10));
        Assert.Equal(("rollback", "shop-m100", "ana", "refund answers got worse"), (announcement.Action, announcement.Version, announcement.Actor, announcement.Note));
    }
}
