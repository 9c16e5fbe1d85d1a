using System.Text;
using System.Text.Json;

namespace FeedbackLoop.Contracts.Tests;

public sealed class RepeatedTextTests
{
    private static string Read(byte[] json)
    {
        var reader = new Utf8JsonReader(json);
        Assert.True(reader.Read());
        return RepeatedText.Read(ref reader);
    }

    private static string Read(string json) => Read(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void Equal_values_read_at_different_times_are_one_string()
    {
        var first = Read("\"support-bot-v7\"");
        var second = Read("\"support-bot-v7\"");

        Assert.Equal("support-bot-v7", first);
        Assert.Same(first, second);
    }

    [Theory]
    [InlineData("\"model-\\u0041\"", "model-A")]   // escaped: unescaped as ever, never served from the table
    [InlineData("\"\"", "")]
    [InlineData("\"mod\u00e8le\"", "mod\u00e8le")]
    public void Values_read_back_as_the_text_they_encode(string json, string expected)
    {
        Assert.Equal(expected, Read(json));
        Assert.Equal(expected, Read(json));
    }

    [Fact]
    public void An_escaped_value_and_the_raw_bytes_of_another_never_share_a_string()
    {
        // "model-A" raw would be in the table; the escaped spelling of a different value must not be taken for it.
        Assert.Equal("model-A", Read("\"model-A\""));
        Assert.Equal("model-\\A", Read("\"model-\\\\A\""));
    }

    [Fact]
    public void Many_distinct_values_each_read_back_as_themselves_whatever_the_table_holds()
    {
        // Far more values than the table has slots, twice over: every lookup that misses or collides still returns its own text.
        var values = Enumerable.Range(0, 5_000).Select(i => $"variant-{i}").ToArray();
        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var value in values) Assert.Equal(value, Read($"\"{value}\""));
        }
    }

    [Fact]
    public void Values_longer_than_the_limit_are_read_but_not_shared()
    {
        var longValue = new string('m', RepeatedText.MaxBytes + 1);

        var first = Read($"\"{longValue}\"");
        var second = Read($"\"{longValue}\"");

        Assert.Equal(longValue, first);
        Assert.NotSame(first, second);
    }

    [Fact]
    public void Invalid_UTF8_is_refused_as_before_and_never_stored()
    {
        // 0xFF is never valid UTF-8: GetString throws, as the parser's callers expect, and the next valid read is unaffected.
        byte[] invalid = [(byte)'"', (byte)'m', 0xFF, (byte)'"'];
        Assert.Throws<InvalidOperationException>(() => Read(invalid));
        Assert.Throws<InvalidOperationException>(() => Read(invalid));
        Assert.Equal("m", Read("\"m\""));
    }

    [Fact]
    public void Reads_from_several_threads_at_once_each_get_their_own_value()
    {
        var values = Enumerable.Range(0, 2_000).Select(i => $"app-{i % 700}").ToArray();
        Parallel.For(0, 8, _ =>
        {
            foreach (var value in values) Assert.Equal(value, Read($"\"{value}\""));
        });
    }
}
