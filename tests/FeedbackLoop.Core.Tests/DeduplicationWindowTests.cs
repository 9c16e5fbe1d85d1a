using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Core.Tests;

/// <summary>
/// The de-duplication window keeps the SDK's UUID ids as 16 bytes and every other id as its text; either way an id is the
/// same as another exactly when the strings are equal, and a checkpoint gets every id back as it came (a packed one as its
/// bytes, a text one as its string).
/// </summary>
public sealed class DeduplicationWindowTests
{
    [Theory]
    [InlineData("01960f6e-7a2b-7c3d-9e4f-5a6b7c8d9e0f", true)]    // the SDK's form (Guid.CreateVersion7().ToString())
    [InlineData("00000000-0000-0000-0000-000000000000", true)]
    [InlineData("01960F6E-7A2B-7C3D-9E4F-5A6B7C8D9E0F", false)]   // uppercase: another spelling, kept as text
    [InlineData("01960f6e7a2b7c3d9e4f5a6b7c8d9e0f", false)]       // no hyphens
    [InlineData("{01960f6e-7a2b-7c3d-9e4f-5a6b7c8d9e0f}", false)] // braces
    [InlineData("01960f6e-7a2b-7c3d-9e4f-5a6b7c8d9e0g", false)]   // not hex
    [InlineData("01960f6e-7a2b-7c3d-9e4f_5a6b7c8d9e0f", false)]   // a hyphen out of place
    [InlineData("s-1-42-3", false)]
    [InlineData("", false)]
    public void Only_a_lowercase_UUID_is_packed_and_every_id_reads_back_as_it_came(string id, bool packed)
    {
        var window = new DeduplicationWindow(10);

        Assert.Equal(packed, DeduplicationWindow.IsLowercaseUuid(id));
        Assert.True(window.Add(id));
        Assert.Equal([id], Checkpointed(window));
    }

    [Fact]
    public void Ids_are_the_same_exactly_when_their_strings_are()
    {
        var window = new DeduplicationWindow(100);
        string[] distinct =
        [
            "01960f6e-7a2b-7c3d-9e4f-5a6b7c8d9e0f",
            "01960F6E-7A2B-7C3D-9E4F-5A6B7C8D9E0F",
            "01960f6e7a2b7c3d9e4f5a6b7c8d9e0f",
            "00000000-0000-0000-0000-000000000000",
            "e-1",
            "",
        ];

        Assert.All(distinct, id => Assert.True(window.Add(id), id));
        Assert.All(distinct, id => Assert.False(window.Add(new string(id.AsSpan())), id)); // an equal string, not the same instance
    }

    [Fact]
    public void The_oldest_id_is_forgotten_first_and_the_rest_read_back_in_order()
    {
        var window = new DeduplicationWindow(3);
        var ids = new[] { "01960f6e-7a2b-7c3d-9e4f-5a6b7c8d9e01", "e-2", "01960f6e-7a2b-7c3d-9e4f-5a6b7c8d9e03", "e-4" };

        foreach (var id in ids) Assert.True(window.Add(id));

        Assert.Equal(ids[1..], Checkpointed(window));
        Assert.Equal(3, window.Count);
        Assert.True(window.Add(ids[0]), "the forgotten id counts as new again");
        Assert.False(window.Add(ids[3]));
        Assert.Equal([ids[2], ids[3], ids[0]], Checkpointed(window));
        Assert.True(window.Add(ids[1]), "the text id was forgotten when the UUID came back");
        Assert.Equal([ids[3], ids[0], ids[1]], Checkpointed(window));
    }

    [Fact]
    public void A_checkpoint_holds_a_packed_id_as_a_tag_and_its_16_bytes_and_a_text_id_as_a_tag_and_its_string()
    {
        string[] ids = ["01960f6e-7a2b-7c3d-9e4f-5a6b7c8d9e0f", "e-2", "g\u00e9n\u00e9ration", "00000000-0000-0000-0000-000000000000"];
        var window = new DeduplicationWindow(10);
        foreach (var id in ids) window.Add(id);
        using var packed = new MemoryStream();
        using (var writer = new CheckpointWriter(packed)) window.WriteIds(writer, skip: 0);
        using var expected = new MemoryStream();
        using (var writer = new CheckpointWriter(expected))
        {
            foreach (var id in ids)
            {
                if (DeduplicationWindow.IsLowercaseUuid(id))
                {
                    writer.Write((byte)1);
                    writer.Write(Guid.ParseExact(id, "D").ToByteArray());
                }
                else
                {
                    writer.Write((byte)2);
                    writer.Write(id);
                }
            }
        }

        Assert.Equal(expected.ToArray(), packed.ToArray());
    }

    /// <summary>The ids a checkpoint of <paramref name="window"/> gives back: restored into a fresh window, checkpointed again and read.</summary>
    private static List<string> Checkpointed(DeduplicationWindow window)
    {
        var restored = new DeduplicationWindow(window.Count);
        using (var body = new MemoryStream())
        {
            using (var writer = new CheckpointWriter(body)) window.WriteIds(writer, skip: 0);
            body.Position = 0;
            using var reader = new CheckpointReader(body);
            restored.ReadIds(reader, window.Count);
            Assert.Equal(0, reader.Remaining);
        }

        using var again = new MemoryStream();
        using (var writer = new CheckpointWriter(again)) restored.WriteIds(writer, skip: 0);
        again.Position = 0;
        using var ids = new CheckpointReader(again);
        var result = new List<string>();
        for (var i = 0; i < restored.Count; i++)
        {
            result.Add(ids.ReadByte() switch
            {
                1 => ReadUuid(ids),
                2 => ids.ReadString(),
                var tag => throw new InvalidDataException($"tag {tag}"),
            });
        }
        return result;
    }

    private static string ReadUuid(CheckpointReader reader)
    {
        Span<byte> bytes = stackalloc byte[16];
        reader.ReadExactly(bytes);
        return new Guid(bytes).ToString("D");
    }
}
