using FeedbackLoop.Core.Rollouts;

namespace FeedbackLoop.Core.Tests.Rollouts;

/// <summary>Which model a session gets: the table of app states, stickiness, and the canary's share over many sessions.</summary>
public sealed class ModelResolverTests
{
    private static readonly ServedModel Stable = new("shop-m200", "models/shop-m200");
    private static readonly ServedModel Canary = new("shop-m400", "models/shop-m400");

    public static TheoryData<string, AppServing, string, string?, ServingVariant?, string?> Table() => new()
    {
        { "no model yet: nothing to serve", new AppServing("shop", null, null), "s-1", null, null, null },
        { "no rollout: the stable model", new AppServing("shop", Stable, null), "s-1", "shop-m200", ServingVariant.Stable, null },
        { "a rollout at 100%: the canary", new AppServing("shop", Stable, new CanarySplit("r1", Canary, 100)), "s-1", "shop-m400", ServingVariant.Canary, "r1" },
        { "a halted rollout (0%): stable, with the rollout named", new AppServing("shop", Stable, new CanarySplit("r1", Canary, 0)), "s-1", "shop-m200", ServingVariant.Stable, "r1" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Resolve(string situation, AppServing serving, string session, string? version, ServingVariant? variant, string? rollout)
    {
        Assert.False(string.IsNullOrEmpty(situation));
        var assignment = ModelResolver.Resolve(serving, session);

        Assert.Equal(version, assignment?.Version);
        Assert.Equal(variant, assignment?.Variant);
        Assert.Equal(rollout, assignment?.RolloutId);
    }

    [Theory]
    [InlineData("r1", "session-0", 5979)]
    [InlineData("r1", "session-1", 1818)]
    [InlineData("r2", "session-0", 237)]
    public void A_bucket_is_a_fixed_function_of_rollout_and_session_so_other_processes_and_SDKs_agree(string rollout, string session, int bucket)
    {
        Assert.Equal(bucket, ModelResolver.Bucket(rollout, session));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(50)]
    public void The_canary_serves_its_share_of_sessions(int percent)
    {
        var serving = new AppServing("shop", Stable, new CanarySplit("r1", Canary, percent));
        var canary = Enumerable.Range(0, 20_000).Count(i => ModelResolver.Resolve(serving, $"session-{i}")!.Variant == ServingVariant.Canary);

        // Binomial(20,000, p): four standard deviations either side.
        var expected = 20_000 * percent / 100.0;
        var slack = 4 * Math.Sqrt(20_000 * percent / 100.0 * (1 - (percent / 100.0)));
        Assert.InRange(canary, expected - slack, expected + slack);
    }

    [Fact]
    public void Raising_the_share_only_moves_stable_sessions_into_the_canary_never_back()
    {
        var at10 = new AppServing("shop", Stable, new CanarySplit("r1", Canary, 10));
        var at30 = at10 with { Rollout = at10.Rollout! with { Percent = 30 } };
        var sessions = Enumerable.Range(0, 5000).Select(i => $"s{i}").ToList();

        Assert.All(sessions.Where(s => ModelResolver.Resolve(at10, s)!.Variant == ServingVariant.Canary),
            s => Assert.Equal(ServingVariant.Canary, ModelResolver.Resolve(at30, s)!.Variant));
    }

    [Fact]
    public void Each_rollout_draws_its_own_canary_sessions()
    {
        var sessions = Enumerable.Range(0, 2000).Select(i => $"s{i}").ToList();
        var first = sessions.Where(s => ModelResolver.Bucket("r1", s) < 1000).ToHashSet();
        var second = sessions.Where(s => ModelResolver.Bucket("r2", s) < 1000).ToHashSet();

        // Independent draws of 10% overlap in about 1% of sessions; the same draw would overlap in all 10%.
        Assert.InRange(first.Intersect(second).Count(), 0, 60);
    }
}
