namespace FeedbackLoop.Collector.Tests;

/// <summary><c>KafkaLinger</c> (librdkafka's <c>linger.ms</c>): 0 or more, and under the delivery budget it is spent from.</summary>
public sealed class KafkaLingerOptionTests
{
    [Theory]
    [InlineData(5, 5_000, true)] // the defaults
    [InlineData(0, 5_000, true)] // no waiting at all
    [InlineData(4_999, 5_000, true)]
    [InlineData(5_000, 5_000, false)] // every answer would spend the whole budget waiting
    [InlineData(-1, 5_000, false)]
    public void KafkaLinger_is_zero_or_more_and_under_the_delivery_timeout(int lingerMs, int deliveryMs, bool valid)
    {
        var options = new CollectorOptions { BootstrapServers = "127.0.0.1:9092", KeysFile = "keys.json" } with
        {
            KafkaLinger = TimeSpan.FromMilliseconds(lingerMs),
            DeliveryTimeout = TimeSpan.FromMilliseconds(deliveryMs),
        };

        Assert.Equal(valid, options.Invalid() is null);
        if (!valid) Assert.Equal("KafkaLinger must be 0 or more and under DeliveryTimeout", options.Invalid());
    }

    [Fact]
    public void The_default_is_librdkafkas_own_five_milliseconds() =>
        Assert.Equal(TimeSpan.FromMilliseconds(5), new CollectorOptions { BootstrapServers = "b", KeysFile = "k" }.KafkaLinger);
}
