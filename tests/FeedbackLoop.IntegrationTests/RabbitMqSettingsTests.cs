using FeedbackLoop.Orchestration.Transport;

namespace FeedbackLoop.IntegrationTests;

/// <summary>How a RabbitMQ connection is written and shown (no broker needed).</summary>
public sealed class RabbitMqSettingsTests
{
    [Theory]
    [InlineData("amqp://loop:pw@mq.internal:5673/feedback", "mq.internal", 5673, "feedback", "loop", "pw")]
    [InlineData("rabbitmq://mq.internal", "mq.internal", 5672, "/", "guest", "guest")]
    [InlineData("amqp://loop@10.0.0.5/", "10.0.0.5", 5672, "/", "loop", "guest")]
    [InlineData("amqp://loop:p%40ss%3Aword@mq/%2F", "mq", 5672, "/", "loop", "p@ss:word")]
    [InlineData("amqp://loop:pw@[::1]:5672/prod%2Fa", "::1", 5672, "prod/a", "loop", "pw")]
    public void A_uri_gives_host_port_virtual_host_and_login(string uri, string host, int port, string virtualHost, string user, string password)
    {
        var settings = RabbitMqSettings.Parse(uri);

        Assert.Equal(new RabbitMqSettings(host, port, virtualHost, user, password), settings);
    }

    [Theory]
    [InlineData("amqps://loop:pw@mq/", "scheme 'amqps'")]
    [InlineData("http://mq/", "scheme 'http'")]
    [InlineData("amqp://loop:pw@mq/a/b", "more than one path segment")]
    [InlineData("amqp://loop:pw@mq/?heartbeat=10", "query or fragment")]
    [InlineData("mq:5672", "scheme 'mq'")]
    [InlineData("not a uri", "is not a RabbitMQ URI")]
    [InlineData("amqp://loop:pw@with@at@mq/a/b", "'amqp://loop:***@mq/a/b' is not a RabbitMQ URI")]
    public void A_uri_that_is_not_a_plain_rabbitmq_address_is_refused_with_the_reason(string uri, string reason)
    {
        var error = Assert.Throws<FormatException>(() => RabbitMqSettings.Parse(uri));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pw", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Shown_settings_never_contain_the_password()
    {
        var settings = RabbitMqSettings.Parse("amqp://loop:hunter2@mq:5673/feedback");

        Assert.Equal("amqp://loop@mq:5673/feedback", settings.ToString());
        Assert.Equal("RabbitMQ amqp://loop@mq:5673/feedback", LoopTransport.RabbitMq(settings).ToString());
        Assert.DoesNotContain("hunter2", settings.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("feedback/prod")]
    [InlineData("plain")]
    public void Shown_settings_read_back_as_the_same_broker_and_login_without_the_password(string virtualHost)
    {
        var settings = new RabbitMqSettings("mq.internal", 5673, virtualHost, "loop user", "pw");

        var readBack = RabbitMqSettings.Parse(settings.ToString());

        Assert.Equal(settings, new RabbitMqSettings(readBack.Host, readBack.Port, readBack.VirtualHost, readBack.User, "pw"));
        Assert.Equal("guest", readBack.Password);
    }

    [Fact]
    public void Settings_outside_what_rabbitmq_accepts_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RabbitMqSettings("mq", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RabbitMqSettings("mq", 70000));
        Assert.Throws<ArgumentException>(() => new RabbitMqSettings(" "));
        Assert.Throws<ArgumentException>(() => new RabbitMqSettings("mq", 5672, ""));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RabbitMqSettings("mq") { StartTimeout = TimeSpan.Zero });
    }

    [Fact]
    public void The_loop_runs_in_memory_unless_a_broker_is_given()
    {
        Assert.Null(LoopTransport.InMemory.Broker);
        Assert.Equal("in-memory", LoopTransport.InMemory.ToString());
        Assert.Equal("mq", LoopTransport.RabbitMq(new RabbitMqSettings("mq")).Broker?.Host);
    }
}
