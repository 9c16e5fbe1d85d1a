namespace FeedbackLoop.Training.Rewards;

/// <summary>Settings of one reward-model training run; the defaults are the documented constants below.</summary>
public sealed record RewardTrainingOptions
{
    /// <summary>Seed of the ML.NET context. Training is deterministic for a given seed and pair order.</summary>
    public const int DefaultSeed = 1;

    /// <summary>
    /// L2 penalty of the logistic regression (ML.NET's default). Most n-grams are seen in a handful of pairs; on our
    /// noisy synthetic set weaker penalties (0.001–0.1) let rare phrases dominate and lost 5–9 points of held-out accuracy.
    /// </summary>
    public const float DefaultL2Regularization = 1f;

    /// <summary>Longest word n-gram (all shorter ones are included): unigrams and bigrams.</summary>
    public const int DefaultWordNgramLength = 2;

    /// <summary>
    /// Character n-gram length; 0 (the default) turns them off. Character trigrams tripled the cost of a score
    /// (~10 → ~33 µs for a 176-character response) without a measurable gain in held-out accuracy, and scoring runs
    /// once per candidate response.
    /// </summary>
    public const int DefaultCharNgramLength = 0;

    /// <summary>
    /// Weight of one feedback label (a thumbs up or down on one shown response) against one preference pair of weight 1.
    /// A label says less than a pair (it compares with nothing), but apps collect several times more of them: on the demo's
    /// simulated users, weights 0.5, 1 and 2 all closed 4–7 more points of the random→oracle gap than pairs alone at
    /// 400–800 pairs, 1 among the best. 0 trains on pairs only.
    /// </summary>
    public const float DefaultLabelWeight = 1f;

    /// <summary>
    /// Half-life of a pair's or label's weight in event time, counted back from the newest row of the training set, or
    /// null (the default) for every row at full weight. Tastes drift: with a half-life, last month's feedback still
    /// teaches what has not changed but is outvoted where users changed their minds. Applies to pairs and labels alike.
    /// </summary>
    public TimeSpan? RecencyHalfLife { get; init; }

    /// <summary>The model version the trained model reports (and persists), e.g. <c>reward-2025-06-01-a</c>.</summary>
    public required string Version { get; init; }

    /// <summary>Seed of the ML.NET context; <see cref="DefaultSeed"/> when not set.</summary>
    public int Seed { get; init; } = DefaultSeed;

    /// <summary>L2 penalty; <see cref="DefaultL2Regularization"/> when not set.</summary>
    public float L2Regularization { get; init; } = DefaultL2Regularization;

    /// <summary>Longest word n-gram; <see cref="DefaultWordNgramLength"/> when not set.</summary>
    public int WordNgramLength { get; init; } = DefaultWordNgramLength;

    /// <summary>
    /// Character n-gram length, or 0 for none; <see cref="DefaultCharNgramLength"/> when not set. Character n-grams
    /// (3 is usual) catch inflections and typos that word n-grams split across many rare tokens, at a higher scoring cost.
    /// </summary>
    public int CharNgramLength { get; init; } = DefaultCharNgramLength;

    /// <summary>
    /// When true, word (and character) n-grams never span a line break: each non-blank line is featurized on its own and a
    /// response's features are the sum of its lines' divided by √(lines). Chat answers are made of lines (bullets, steps,
    /// a caveat, a closing offer) whose order carries little, so n-grams across two lines are mostly noise that the model
    /// must learn to ignore; and a long line no longer dilutes the short ones. False (the default) featurizes the response
    /// as one text, as models trained before this setting do. On the demo's data it closed about 3 more points of the
    /// random→oracle gap at every training size tried (docs/adr/0042).
    /// </summary>
    public bool NgramsWithinLines { get; init; }

    /// <summary>Weight of a feedback label; <see cref="DefaultLabelWeight"/> when not set, 0 for pairs only.</summary>
    public float LabelWeight { get; init; } = DefaultLabelWeight;
}
