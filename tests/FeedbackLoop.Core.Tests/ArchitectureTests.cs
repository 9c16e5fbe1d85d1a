using System.Reflection;
using FeedbackLoop.Core.Extraction;

namespace FeedbackLoop.Core.Tests;

public sealed class ArchitectureTests
{
    // Core is the pure logic: brokers, buses, file formats, ML and databases belong to the shells around it.
    private static readonly string[] ForbiddenPrefixes =
        ["Confluent", "MassTransit", "Parquet", "Microsoft.ML", "Apache.Arrow", "Microsoft.Data.Sqlite"];

    [Fact]
    public void Core_references_no_broker_bus_file_format_ml_or_database_assembly()
    {
        var offending = ReferencedClosure(typeof(Extractor).Assembly)
            .Where(name => ForbiddenPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)))
            .ToArray();

        Assert.Empty(offending);
    }

    [Fact]
    public void Core_references_only_the_contracts_among_our_own_assemblies()
    {
        var ours = typeof(Extractor).Assembly.GetReferencedAssemblies()
            .Select(a => a.Name ?? "")
            .Where(name => name.StartsWith("FeedbackLoop", StringComparison.Ordinal))
            .ToArray();

        Assert.Equal(["FeedbackLoop.Contracts"], ours);
    }

    /// <summary>Names of the assemblies Core references, and those our own referenced assemblies reference in turn.</summary>
    private static SortedSet<string> ReferencedClosure(Assembly root)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Queue<Assembly>([root]);
        while (pending.TryDequeue(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                var name = reference.Name ?? "";
                if (!names.Add(name)) continue;
                if (name.StartsWith("FeedbackLoop", StringComparison.Ordinal)) pending.Enqueue(Assembly.Load(reference));
            }
        }
        return names;
    }
}
