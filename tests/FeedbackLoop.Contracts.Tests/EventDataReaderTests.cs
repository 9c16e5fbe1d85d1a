using System.Text;
using System.Text.Json;

namespace FeedbackLoop.Contracts.Tests;

/// <summary>
/// The reader that skips the serializer for the usual shape of <c>data</c> (<see cref="EventDataReader"/>) never decides
/// anything the serializer would decide differently: whatever it accepts, the serializer reads as the same object, and
/// it leaves every odd shape (valid or not) to the serializer.
/// </summary>
public sealed class EventDataReaderTests
{
    public static TheoryData<string> Samples() => [.. EventSamples.All.Keys];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_valid_sample_is_read_without_the_serializer_as_the_serializer_reads_it(string name)
    {
        var data = DataOf(EventJson.SerializeToUtf8Bytes(EventSamples.All[name]));
        var type = EventSamples.All[name].Data.GetType();

        Assert.True(EventDataReader.TryRead(data, type, out var fast), name);
        Assert.Equal(Serialized(Serializer(data, type)!), Serialized(fast!));
    }

    /// <summary>Shapes the serializer accepts or refuses in its own way: the reader leaves each of them to it.</summary>
    [Theory]
    [InlineData(typeof(ThumbGiven), """{"generation_id":"g","value":"up","extra":1}""")]
    [InlineData(typeof(ThumbGiven), """{"generation_id":"g","generation_id":"h","value":"up"}""")]
    [InlineData(typeof(ThumbGiven), """{"generation_\u0069d":"g","value":"up"}""")]
    [InlineData(typeof(ThumbGiven), """{"generation_id":"g","value":"\u0075p"}""")]
    [InlineData(typeof(ThumbGiven), """{"generation_id":"g","value":"sideways"}""")]
    [InlineData(typeof(ThumbGiven), """{"generation_id":null,"value":"up"}""")]
    [InlineData(typeof(ThumbGiven), """{"value":"up"}""")]
    [InlineData(typeof(ThumbGiven), """{"Generation_Id":"g","value":"up"}""")]
    [InlineData(typeof(RatingGiven), """{"generation_id":"g","score":4.0}""")]
    [InlineData(typeof(RatingGiven), """{"generation_id":"g","score":"4"}""")]
    [InlineData(typeof(RatingGiven), """{"generation_id":"g","score":4294967296}""")]
    [InlineData(typeof(GenerationDwell), """{"generation_id":"g","visible_ms":1e3}""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g","model_version":"m","input":null,"output":"o"}""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g","model_version":"m","input":[null],"output":"o"}""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g","model_version":"m","input":[{"role":"user"}],"output":"o"}""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g","model_version":"m","input":[{"role":"user","content":"c","name":"x"}],"output":"o"}""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g","model_version":"m","input":[],"output":"o","position":2147483648}""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g","model_version":"m","input":[],"output":"o","type":"generation.shown"}""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g","model_version":"m","input":[]}""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g\ud800","model_version":"m","input":[],"output":"o"}""")]
    [InlineData(typeof(SessionEnded), """{"reason":"x"}""")]
    [InlineData(typeof(GenerationCopied), """{"generation_id":"g","generation_id":"g"}""")]
    public void An_odd_shape_is_left_to_the_serializer(Type type, string json) =>
        Assert.False(EventDataReader.TryRead(Encoding.UTF8.GetBytes(json), type, out _), json);

    [Theory]
    [InlineData(typeof(GenerationShown), """{ "output" : "o", "input" : [ { "content" : "c\n\"q\"", "role" : "user" } ], "model_version" : "m", "generation_id" : "g", "variant" : null, "position" : 0 }""")]
    [InlineData(typeof(GenerationShown), """{"generation_id":"g","model_version":"m","input":[],"output":"\u00e9t\u00e9 \ud83d\ude00"}""")]
    [InlineData(typeof(RatingGiven), """{"score":-7,"generation_id":""}""")]
    [InlineData(typeof(GenerationDwell), """{"generation_id":"g","visible_ms":-1}""")]
    [InlineData(typeof(SessionEnded), """{ }""")]
    public void Any_order_whitespace_escaped_values_and_out_of_range_values_read_as_the_serializer_reads_them(Type type, string json)
    {
        var data = Encoding.UTF8.GetBytes(json);
        Assert.True(EventDataReader.TryRead(data, type, out var fast), json);
        Assert.Equal(Serialized(Serializer(data, type)!), Serialized(fast!));
    }

    [Fact]
    public void Whatever_it_accepts_of_fifty_thousand_mutated_data_objects_the_serializer_reads_as_the_same_object()
    {
        // Seeded: the same corpus on every run. Mutations keep most objects parseable JSON, so both paths are exercised.
        var random = new Random(20261130);
        var seeds = EventSamples.All.Values.Select(e => (Data: DataOf(EventJson.SerializeToUtf8Bytes(e)), Type: e.Data.GetType())).ToArray();
        string[] tokens = ["\"\"", "null", "1", "-1", "1.5", "2147483648", "[]", "{}", "\"up\"", "\"down\"", "\"x\"", "true", "\"\\u0041\"", " "];
        var accepted = 0;
        for (var i = 0; i < 50_000; i++)
        {
            var (seed, type) = seeds[random.Next(seeds.Length)];
            var text = Encoding.UTF8.GetString(seed);
            // Replace a value or name-sized stretch between two structural characters with a token, or drop one.
            var cut = random.Next(1, text.Length - 1);
            var end = Math.Min(text.Length - 1, cut + random.Next(0, 12));
            var mutant = random.Next(3) switch
            {
                0 => text[..cut] + tokens[random.Next(tokens.Length)] + text[end..],
                1 => text[..cut] + text[end..],
                _ => text,
            };
            var data = Encoding.UTF8.GetBytes(mutant);
            if (!EventDataReader.TryRead(data, type, out var fast)) continue;
            accepted++;
            Assert.Equal(Serialized(Serializer(data, type)!), Serialized(fast!));
        }
        Assert.True(accepted > 10_000, $"only {accepted} mutants were read without the serializer");
    }

    private static EventData? Serializer(byte[] data, Type type) =>
        (EventData?)JsonSerializer.Deserialize(data, EventJsonContext.Default.GetTypeInfo(type)!);

    /// <summary>A comparable form: the records hold lists, which compare by reference.</summary>
    private static string Serialized(EventData data) => data.GetType().Name + JsonSerializer.Serialize(data, EventJsonContext.Default.GetTypeInfo(data.GetType())!);

    /// <summary>The bytes of an event's <c>data</c> object, as the envelope parser hands them on.</summary>
    private static byte[] DataOf(byte[] evt)
    {
        using var document = JsonDocument.Parse(evt);
        return Encoding.UTF8.GetBytes(document.RootElement.GetProperty("data").GetRawText());
    }
}
