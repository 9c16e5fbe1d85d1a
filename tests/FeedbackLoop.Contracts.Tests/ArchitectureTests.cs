namespace FeedbackLoop.Contracts.Tests;

public sealed class ArchitectureTests
{
    // Apps embed the contracts through the SDK; a broker, bus, file-format or ML dependency here would ride along into them.
    private static readonly string[] ForbiddenPrefixes = ["Confluent", "MassTransit", "Parquet", "Microsoft.ML", "Apache.Arrow"];

    [Fact]
    public void Contracts_reference_no_broker_bus_parquet_arrow_or_ml_assembly()
    {
        var offending = typeof(FeedbackEvent).Assembly.GetReferencedAssemblies()
            .Select(a => a.Name ?? "")
            .Where(name => ForbiddenPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
            .ToArray();

        Assert.Empty(offending);
    }
}
