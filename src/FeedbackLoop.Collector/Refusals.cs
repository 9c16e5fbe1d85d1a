namespace FeedbackLoop.Collector;

/// <summary>
/// Why the collector refused a whole request: a fixed code, the <c>error</c> of the answer's body and the <c>reason</c> tag
/// of <c>feedbackloop.collector.requests_refused</c>. docs/COLLECTOR.md lists each with its status.
/// </summary>
internal static class Refusals
{
    // 401
    public const string MissingKey = "missing_key";
    public const string MalformedKey = "malformed_key";
    public const string UnknownKey = "unknown_key";
    public const string RevokedKey = "revoked_key";

    // 415
    public const string UnsupportedContentType = "unsupported_content_type";
    public const string UnsupportedEncoding = "unsupported_encoding";

    // 413
    public const string BodyTooLarge = "body_too_large";
    public const string DecompressedTooLarge = "decompressed_too_large";
    public const string TooManyEvents = "too_many_events";
    public const string EventTooLarge = "event_too_large";

    // 400
    public const string CorruptGzip = "corrupt_gzip";
    public const string NotJson = "not_json";
    public const string NotArray = "not_array";
    public const string EmptyBatch = "empty_batch";
    public const string TooDeep = "too_deep";
    public const string BodyIncomplete = "body_incomplete";

    // 408
    public const string BodyTimeout = "body_timeout";

    // 429 and 503
    public const string InFlightFull = "in_flight_full";
    public const string KafkaUnavailable = "kafka_unavailable";

    // GET /v1/apps/{app}/model
    public const string OtherApp = "other_app";
    public const string MissingSession = "missing_session_id";
    public const string ServingUnavailable = "serving_unavailable";

    /// <summary>The HTTP status of each code.</summary>
    public static int StatusOf(string reason) => reason switch
    {
        MissingKey or MalformedKey or UnknownKey or RevokedKey => 401,
        UnsupportedContentType or UnsupportedEncoding => 415,
        BodyTooLarge or DecompressedTooLarge or TooManyEvents or EventTooLarge => 413,
        BodyTimeout => 408,
        InFlightFull => 429,
        KafkaUnavailable => 503,
        OtherApp => 403,
        ServingUnavailable => 503,
        _ => 400,
    };

    /// <summary>A sentence for a person, fixed per code (it never quotes the request).</summary>
    public static string Explain(string reason, CollectorOptions options) => reason switch
    {
        MissingKey => "send the app's write key as 'Authorization: Bearer <key>'",
        MalformedKey => "the bearer token is not a FeedbackLoop write key (flk_<id>_<secret>)",
        UnknownKey => "no active write key matches this token",
        RevokedKey => "this write key was revoked: use the app's new key",
        UnsupportedContentType => "the body must be 'Content-Type: application/json' (UTF-8)",
        UnsupportedEncoding => "the only content encodings accepted are gzip and identity",
        BodyTooLarge => $"the body is over {options.MaxBodyBytes} bytes on the wire",
        DecompressedTooLarge => $"the body is over {options.MaxDecompressedBytes} bytes once decompressed",
        TooManyEvents => $"a batch holds at most {options.MaxEvents} events",
        EventTooLarge => $"an event is over {options.MaxEventBytes} bytes",
        CorruptGzip => "the body is not valid gzip",
        NotJson => "the body is not valid UTF-8 JSON",
        NotArray => "the body must be a JSON array of events",
        EmptyBatch => "the batch holds no events",
        TooDeep => $"the JSON nests deeper than {options.MaxJsonDepth} levels",
        BodyIncomplete => "the body ended before its announced length",
        BodyTimeout => "the body arrived too slowly",
        InFlightFull => "the collector holds as many bytes in flight as it may; retry after the Retry-After delay",
        KafkaUnavailable => "Kafka did not acknowledge the batch in time; nothing of it was accepted: retry after the Retry-After delay",
        OtherApp => "a write key reads only its own app's model",
        MissingSession => $"pass the session as ?session_id=<id> (1 to {ModelEndpoint.MaxSessionIdLength} characters)",
        ServingUnavailable => "the collector could not read which model the app serves (no store configured, or the store did not answer); retry after the Retry-After delay",
        _ => reason,
    };
}
