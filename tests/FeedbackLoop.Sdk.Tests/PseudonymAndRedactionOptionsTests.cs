using FeedbackLoop.Contracts;
using FeedbackLoop.Sdk.DependencyInjection;
using FeedbackLoop.Sdk.Privacy;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FeedbackLoop.Sdk.Tests;

/// <summary>How configuration turns on user-id pseudonyms and chooses the built-in redactors.</summary>
public sealed class PseudonymAndRedactionOptionsTests
{
    private const string Secret = "a-secret-of-sixteen+chars";

    [Fact]
    public async Task Configuring_a_UserIdSecret_is_enough_to_pseudonymize_every_user_id()
    {
        var transport = new RecordingTransport();
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FeedbackLoop:AppId"] = "shop",
            ["FeedbackLoop:UserIdSecret"] = Secret,
        });
        builder.Services.AddFeedbackLoop(builder.Configuration).UseTransport(_ => transport);
        using (var host = builder.Build())
        {
            await host.StartAsync();
            var client = host.Services.GetRequiredService<FeedbackClient>();
            client.Copied("s1", "jane@example.com", "g1");
            client.Thumb("s1", "customer-42", "g1", ThumbValue.Up);
            await host.StopAsync();
        }

        var raw = string.Concat(transport.Events.Select(e => System.Text.Encoding.UTF8.GetString(e.Json.Span)));
        Assert.DoesNotContain("jane@example.com", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("customer-42", raw, StringComparison.Ordinal);
        var hasher = UserIdHasher.FromSecret(Secret);
        Assert.Equal([hasher.Hash("jane@example.com"), hasher.Hash("customer-42")], transport.Parsed().Select(e => e.UserId));
    }

    [Fact]
    public void Without_a_secret_user_ids_are_sent_as_given_and_with_one_the_hasher_is_set()
    {
        Assert.Null(FeedbackLoopOptionsMapper.ToClientOptions(new FeedbackLoopOptions { AppId = "shop" }, null, null).UserIdHasher);
        var hasher = FeedbackLoopOptionsMapper.ToClientOptions(new FeedbackLoopOptions { AppId = "shop", UserIdSecret = Secret }, null, null).UserIdHasher;
        Assert.NotNull(hasher);
        Assert.Equal(UserIdHasher.FromSecret(Secret).Hash("u1"), hasher.Hash("u1"));
    }

    [Theory]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.Secrets), "secrets")]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.Iban), "iban")]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.PaymentCard), "payment_card")]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.NationalId), "national_id")]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.DateOfBirth), "date_of_birth")]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.Email), "email")]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.IpAddress), "ip_address")]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.PostalAddress), "postal_address")]
    [InlineData(nameof(FeedbackLoopOptions.RedactionSection.Phone), "phone")]
    public void Each_built_in_redactor_is_switched_off_by_its_key_and_the_rest_keep_their_order(string key, string name)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["AppId"] = "shop",
            ["Redaction:" + key] = "false",
        }).Build();
        var options = configuration.Get<FeedbackLoopOptions>()!;

        var redactors = FeedbackLoopOptionsMapper.ToClientOptions(options, null, null).Redactors;

        Assert.Equal(Redactor.Defaults.Select(r => r.Name).Where(n => n != name), redactors.Select(r => r.Name));
    }

    [Fact]
    public void By_default_every_built_in_runs_in_the_default_order()
    {
        var redactors = FeedbackLoopOptionsMapper.ToClientOptions(new FeedbackLoopOptions { AppId = "shop" }, null, null).Redactors;
        Assert.Equal(
            ["secrets", "iban", "payment_card", "national_id", "date_of_birth", "email", "ip_address", "postal_address", "phone"],
            redactors.Select(r => r.Name));
    }
}
