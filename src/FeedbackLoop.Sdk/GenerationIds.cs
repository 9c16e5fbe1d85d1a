namespace FeedbackLoop.Sdk;

/// <summary>
/// New <c>generation_id</c>s: UUIDv7, so ids sort by the time they were made. One place for the client, the no-op client
/// and the chat middleware (on net8.0, <c>Guid.CreateVersion7</c> comes from the Polyfill source package; docs/adr/0027).
/// </summary>
internal static class GenerationIds
{
    /// <summary>A fresh generation id.</summary>
    public static string New() => Guid.CreateVersion7().ToString();
}
