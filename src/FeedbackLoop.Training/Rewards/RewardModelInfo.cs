namespace FeedbackLoop.Training.Rewards;

/// <summary>What a reward model records about its training next to its weights.</summary>
/// <param name="Version">The model version given at training.</param>
/// <param name="Seed">The ML.NET seed it was trained with.</param>
/// <param name="TrainedPairs">Number of preference pairs it was trained on.</param>
internal sealed record RewardModelInfo(string Version, int Seed, int TrainedPairs);
