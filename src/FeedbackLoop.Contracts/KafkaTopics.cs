namespace FeedbackLoop.Contracts;

/// <summary>Kafka topic names of the v1 wire contract.</summary>
public static class KafkaTopics
{
    /// <summary>All v1 events; the message key is the event's <c>session_id</c>.</summary>
    public const string Events = "feedbackloop.events.v1";

    /// <summary>Records the extractors could not accept: the original bytes plus a reason header.</summary>
    public const string DeadLetters = "feedbackloop.events.dlq.v1";

    /// <summary>Default partition count of <see cref="Events"/>; sessions spread over partitions by key.</summary>
    public const int DefaultEventPartitions = 6;

    /// <summary>Default partition count of <see cref="DeadLetters"/>.</summary>
    public const int DefaultDeadLetterPartitions = 1;
}
