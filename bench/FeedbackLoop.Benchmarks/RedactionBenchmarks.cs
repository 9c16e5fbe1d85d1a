using BenchmarkDotNet.Attributes;
using FeedbackLoop.Sdk.Privacy;

namespace FeedbackLoop.Benchmarks;

/// <summary>
/// What the SDK's sender pays to redact one chat turn with every built-in redactor (it runs there, not on the
/// app's thread): a ~500-character turn holding an e-mail, a phone and a card, and the same length with nothing
/// to find. `dotnet run -c Release --project bench/FeedbackLoop.Benchmarks -- --filter *Redaction* --job short`.
/// </summary>
[MemoryDiagnoser]
public class RedactionBenchmarks
{
    private static readonly string Prose = string.Concat(Enumerable.Repeat("Thanks! I tried the steps you gave but the export still fails at step 3. ", 6));
    private static readonly string WithFindings = Prose + "You can reach me at jane.doe@example.com or +44 20 7946 0958; card 4111 1111 1111 1111.";
    private static readonly string WithoutFindings = Prose + "I can send you the log file tomorrow if that would help, just tell me where.";

    [Benchmark(Baseline = true)]
    public string NothingToFind() => Redactor.Apply(Redactor.Defaults, WithoutFindings);

    [Benchmark]
    public string EmailPhoneAndCard() => Redactor.Apply(Redactor.Defaults, WithFindings);
}
