using Confluent.Kafka;
using FeedbackLoop.Kafka.Configuration;

namespace FeedbackLoop.IntegrationTests;

/// <summary>
/// <c>--kafka-config</c>: the librdkafka properties file every Kafka role takes. Secrets come from the environment,
/// settings the loop depends on are refused with their reason, and no error ever shows a value.
/// </summary>
public sealed class KafkaConfigFileTests
{
    private static readonly Dictionary<string, string> Environment = new(StringComparer.Ordinal)
    {
        ["KAFKA_PASSWORD"] = "s3cr3t-p4ss",
        ["KAFKA_USER"] = "loop",
        ["EMPTY"] = "",
    };

    private static (KafkaClientProperties? Properties, IReadOnlyList<string> Errors) Parse(string text) =>
        KafkaConfigFile.Parse(text, name => Environment.GetValueOrDefault(name));

    [Theory]
    // text, expected key=value pairs (";"-separated, in file order)
    [InlineData("security.protocol=SASL_SSL", "security.protocol=SASL_SSL")]
    [InlineData("  security.protocol =  SASL_SSL  \r\n", "security.protocol=SASL_SSL")]
    [InlineData("# managed cluster\n! old style comment\n\nsasl.mechanism=SCRAM-SHA-512", "sasl.mechanism=SCRAM-SHA-512")]
    [InlineData("sasl.username=${KAFKA_USER}\nsasl.password=${KAFKA_PASSWORD}", "sasl.username=loop;sasl.password=s3cr3t-p4ss")]
    [InlineData("sasl.password=pre-${KAFKA_PASSWORD}-post", "sasl.password=pre-s3cr3t-p4ss-post")]
    [InlineData("sasl.password=a$b$$c", "sasl.password=a$b$$c")]
    [InlineData("sasl.password=$${NOT_A_VARIABLE}", "sasl.password=${NOT_A_VARIABLE}")]
    [InlineData("sasl.password=x=y=z", "sasl.password=x=y=z")]
    [InlineData("ssl.ca.location=/etc/kafka/ca.pem\nssl.endpoint.identification.algorithm=https", "ssl.ca.location=/etc/kafka/ca.pem;ssl.endpoint.identification.algorithm=https")]
    // Repeating a value the role already uses is harmless, so it loads.
    [InlineData("acks=all\nenable.idempotence=true\nenable.auto.commit=false", "acks=all;enable.idempotence=true;enable.auto.commit=false")]
    [InlineData("acks=-1\nisolation.level=read_committed\nauto.offset.reset=earliest", "acks=-1;isolation.level=read_committed;auto.offset.reset=earliest")]
    [InlineData("fetch.max.bytes=10485760\nsession.timeout.ms=10000", "fetch.max.bytes=10485760;session.timeout.ms=10000")]
    [InlineData("", "")]
    public void A_valid_file_gives_its_properties_in_order(string text, string expected)
    {
        var (properties, errors) = Parse(text);
        Assert.Empty(errors);
        var config = properties!.ApplyTo(new ClientConfig());
        var pairs = properties.Keys.Select(k => $"{k}={config.Get(k)}");
        Assert.Equal(expected, string.Join(';', pairs));
    }

    [Theory]
    // text, the error expected (exactly one)
    [InlineData("security.protocol", "line 1: expected key=value")]
    [InlineData("=SASL_SSL", "line 1: expected key=value")]
    [InlineData("\n\nSecurity.Protocol=SSL", "line 3: 'Security.Protocol' is not a librdkafka property name")]
    [InlineData("sasl.password=${MISSING_SECRET}", "line 1: sasl.password: environment variable MISSING_SECRET is not set")]
    [InlineData("sasl.password=${EMPTY}", "line 1: sasl.password: environment variable EMPTY is empty")]
    [InlineData("sasl.password=${KAFKA_PASSWORD", "line 1: sasl.password: '${' without a closing '}'")]
    [InlineData("sasl.password=${1BAD}", "line 1: sasl.password: '${1BAD}' is not an environment variable name")]
    [InlineData("sasl.username=", "line 1: sasl.username has an empty value")]
    [InlineData("sasl.username=a\nsasl.username=b", "line 2: sasl.username is set twice (first on line 1)")]
    [InlineData("bootstrap.servers=kafka:9092", "line 1: bootstrap.servers may not be set here: the cluster is named by --bootstrap")]
    [InlineData("group.id=mine", "line 1: group.id may not be set here: the role sets it")]
    [InlineData("client.id=mine", "line 1: client.id may not be set here: each role names its own clients")]
    [InlineData("enable.auto.commit=true", "line 1: enable.auto.commit may not be set here: the extractor commits an offset only after the rows before it are durable")]
    [InlineData("enable.auto.offset.store=true", "line 1: enable.auto.offset.store may not be set here")]
    [InlineData("enable.idempotence=false", "line 1: enable.idempotence may not be set here: without idempotence")]
    [InlineData("acks=1", "line 1: acks may not be set here: an event is acknowledged")]
    [InlineData("acks=0", "line 1: acks may not be set here")]
    [InlineData("request.required.acks=1", "line 1: request.required.acks may not be set here")]
    [InlineData("isolation.level=read_uncommitted", "line 1: isolation.level may not be set here: read_uncommitted lets the extractor train on records of transactions that were later aborted")]
    [InlineData("auto.offset.reset=latest", "line 1: auto.offset.reset may not be set here: a group without a committed offset must start at the oldest record")]
    [InlineData("enable.partition.eof=false", "line 1: enable.partition.eof may not be set here")]
    [InlineData("partition.assignment.strategy=cooperative-sticky", "line 1: partition.assignment.strategy may not be set here")]
    [InlineData("allow.auto.create.topics=true", "line 1: allow.auto.create.topics may not be set here: topics are created by `feedbackloop topics ensure`")]
    [InlineData("transactional.id=loop", "line 1: transactional.id may not be set here")]
    [InlineData("message.timeout.ms=1000", "line 1: message.timeout.ms may not be set here")]
    [InlineData("plugin.library.paths=/tmp/evil.so", "line 1: plugin.library.paths may not be set here: it loads native code")]
    [InlineData("test.mock.num.brokers=3", "line 1: test.mock.num.brokers may not be set here: it starts librdkafka's in-memory test cluster")]
    public void A_bad_line_is_refused_with_its_line_and_reason(string text, string expected)
    {
        var (properties, errors) = Parse(text);
        Assert.Null(properties);
        var error = Assert.Single(errors);
        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_of_a_file_is_reported_at_once()
    {
        var (_, errors) = Parse("security.protocol=SASL_SSL\nacks=1\nsasl.password=${MISSING_SECRET}\nenable.idempotence=false");
        Assert.Equal(["line 2: ", "line 3: ", "line 4: "], errors.Select(e => e[..(e.IndexOf(':', StringComparison.Ordinal) + 2)]));
    }

    [Theory]
    [InlineData("sasl.password=${KAFKA_PASSWORD}\nacks=1")]
    [InlineData("sasl.password=${KAFKA_PASSWORD}\nsasl.password=${KAFKA_PASSWORD}")]
    [InlineData("ssl.key.password=s3cr3t-p4ss\nenable.idempotence=false")]
    [InlineData("ssl.key.password=s3cr3t-p4ss\nssl.key.password=s3cr3t-p4ss")]
    public void No_error_and_no_description_shows_a_secret(string text)
    {
        var (_, errors) = Parse(text);
        Assert.NotEmpty(errors);
        Assert.All(errors, e => Assert.DoesNotContain("s3cr3t-p4ss", e, StringComparison.Ordinal));

        var (loaded, none) = Parse("sasl.password=${KAFKA_PASSWORD}\nssl.key.password=s3cr3t-p4ss");
        Assert.Empty(none);
        Assert.DoesNotContain("s3cr3t-p4ss", loaded!.ToString(), StringComparison.Ordinal);
        Assert.Equal(["sasl.password", "ssl.key.password"], loaded.Keys);
    }

    [Fact]
    public void The_file_comes_after_the_roles_own_settings_but_never_changes_a_governed_one()
    {
        var (properties, errors) = Parse("fetch.wait.max.ms=250\nacks=all");
        Assert.Empty(errors);
        var config = properties!.ApplyTo(new ConsumerConfig { FetchWaitMaxMs = 500, EnableAutoCommit = false });
        Assert.Equal(250, config.FetchWaitMaxMs);
        Assert.False(config.EnableAutoCommit);
    }

    [Fact]
    public void A_missing_file_names_itself_and_says_what_to_give()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-such-kafka-{Guid.NewGuid():N}.properties");
        var e = Assert.Throws<KafkaConfigException>(() => KafkaConfigFile.Load(path, _ => null));
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("librdkafka properties file", e.Message, StringComparison.Ordinal);
    }
}
