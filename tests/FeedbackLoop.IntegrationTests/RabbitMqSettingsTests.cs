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
    [InlineData("amqps://loop:pw@mq.internal/feedback", "mq.internal", 5671, "feedback")]
    [InlineData("amqps://loop:pw@mq.internal:6671/", "mq.internal", 6671, "/")]
    public void An_amqps_uri_is_tls_on_port_5671_unless_another_is_given(string uri, string host, int port, string virtualHost)
    {
        var settings = RabbitMqSettings.Parse(uri);

        Assert.Equal(new RabbitMqSettings(host, port, virtualHost, "loop", "pw") { UseTls = true }, settings);
        Assert.StartsWith("amqps://loop@", settings.ToString(), StringComparison.Ordinal);
        Assert.Equal(settings, RabbitMqSettings.Parse(settings.ToString()).WithPassword("pw"));
        Assert.False(RabbitMqSettings.Parse("amqp://loop:pw@mq.internal/").UseTls);
    }

    [Theory]
    [InlineData("https://loop:pw-Q7x@broker.internal/", "scheme is not supported")]
    [InlineData("amqp://loop:pw-Q7x@broker.internal/a/b", "more than one segment")]
    [InlineData("amqp://loop:pw-Q7x@broker.internal/?heartbeat=10", "query or fragment")]
    [InlineData("broker.internal:5672", "scheme is not supported")]
    [InlineData("not a uri broker.internal", "not a RabbitMQ URI")]
    [InlineData("amqp://loop:pw-Q7x@with@at@broker.internal/a/b", "not a RabbitMQ URI")]
    [InlineData("amqp://:pw-Q7x@broker.internal/", "user is empty")]
    public void A_uri_that_is_not_a_plain_rabbitmq_address_is_refused_with_the_reason_and_without_any_of_it(string uri, string reason)
    {
        var error = Assert.Throws<FormatException>(() => RabbitMqSettings.Parse(uri));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("pw-Q7x", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("broker.internal", error.Message, StringComparison.Ordinal);
    }

    // Passwords with the characters a URI gives a meaning to, written without percent-encoding: the URI then does
    // not split where it should, and the old message quoted what it could not redact.
    [Theory]
    [InlineData("amqp://loop:Sx9q/Ty8w@broker.internal:5672/feedback", "Sx9q/Ty8w")]
    [InlineData("amqp://loop:Sx9q@Ty8w@broker.internal:5672/feedback", "Sx9q@Ty8w")]
    [InlineData("amqp://loop:Sx9q%Ty8w@broker.internal:5672/feedback", "Sx9q%Ty8w")]
    [InlineData("amqps://loop:Sx9q/Ty8w@Uz7e%Vw6r@broker.internal/feedback", "Sx9q/Ty8w@Uz7e%Vw6r")]
    [InlineData("amqp://loop:Sx9q/Ty8w@broker.internal:5672/feed/back", "Sx9q/Ty8w")]
    [InlineData("amqp://loop:Sx9q/Ty8w@broker.internal:5672/?x=1", "Sx9q/Ty8w")]
    [InlineData("ftp://loop:Sx9q/Ty8w@broker.internal/", "Sx9q/Ty8w")]
    public void A_password_with_reserved_characters_is_read_whole_or_the_uri_is_refused_without_echoing_any_of_it(string uri, string password)
    {
        var error = Record.Exception(() => RabbitMqSettings.Parse(uri));

        if (error is null)
        {
            // Some such URIs still parse (an unknown %-escape is kept as it is): then the password is the one meant.
            Assert.Equal(password, RabbitMqSettings.Parse(uri).Password);
            return;
        }

        Assert.IsType<FormatException>(error);
        foreach (var part in (string[])[password, .. password.Split('/', '@', '%'), "broker.internal", "loop:"])
        {
            Assert.DoesNotContain(part, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_ca_file_that_is_missing_or_holds_no_certificate_is_a_configuration_error_naming_the_variable()
    {
        var missing = new RabbitMqSettings("mq.internal") { UseTls = true, CaFile = "/nonexistent/feedbackloop-ca.pem" };
        var notPem = Path.GetTempFileName();
        File.WriteAllText(notPem, "not a certificate");
        try
        {
            var notPemSettings = missing with { CaFile = notPem };

            Assert.StartsWith(RabbitMqSettings.CaFileVariable + ": cannot read", Assert.Throws<FormatException>(() => missing.TrustedAuthorities()).Message, StringComparison.Ordinal);
            Assert.StartsWith(RabbitMqSettings.CaFileVariable + ": ", Assert.Throws<FormatException>(() => notPemSettings.TrustedAuthorities()).Message, StringComparison.Ordinal);
            Assert.Null(new RabbitMqSettings("mq.internal") { UseTls = true }.TrustedAuthorities());
        }
        finally
        {
            File.Delete(notPem);
        }
    }

    [Fact]
    public void A_password_with_reserved_characters_is_read_when_percent_encoded()
    {
        var settings = RabbitMqSettings.Parse("amqps://loop:a%2Fb%40c%25d%3Ae@mq.internal/feedback");

        Assert.Equal("a/b@c%d:e", settings.Password);
        Assert.DoesNotContain("a/b@c%d:e", settings.ToString(), StringComparison.Ordinal);
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
