using FeedbackLoop.Orchestration.Hosting;
using FeedbackLoop.Pipelines;
using Mono.Cecil;
using Mono.Cecil.Cil;

namespace FeedbackLoop.Orchestration.Tests;

/// <summary>
/// The second half of the loop is read by stage, bottom to top: the bus transport and the store, the registry, jobs,
/// runs (which carry out the pure run step), the trigger, the worker, and the host that composes them. Each stage may use
/// only the stages listed for it below, which form no cycle; the compiled IL is read (Mono.Cecil), so every use counts —
/// signatures, method bodies, closures and state machines.
/// </summary>
public sealed class ArchitectureTests
{
    private const string Root = "FeedbackLoop.Orchestration";

    /// <summary>Stage → the stages it may use. Adding a stage or an edge here is a design decision: say why in the commit.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> AllowedDependencies = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        // Instruments and span names: every stage may report, telemetry uses no stage.
        ["Telemetry"] = [],
        ["Transport"] = [],
        ["Store"] = [],
        ["Registry"] = ["Store"],
        ["Jobs"] = ["Store", "Transport", "Telemetry"],
        ["Runs"] = ["Jobs", "Registry", "Transport", "Telemetry"],
        ["Trigger"] = ["Runs", "Registry", "Telemetry"],
        ["Worker"] = ["Transport", "Telemetry"],
        ["Rollouts"] = ["Registry", "Telemetry"],
        ["Hosting"] = ["Transport", "Store", "Registry", "Jobs", "Runs", "Trigger", "Worker", "Telemetry"],
    };

    private static readonly Lazy<Dictionary<string, SortedSet<string>>> Actual = new(() => StageGraph(typeof(LoopHost).Assembly.Location));

    [Fact]
    public void Every_namespace_of_orchestration_is_a_known_stage()
    {
        var unknown = Actual.Value.Keys.Where(stage => !AllowedDependencies.ContainsKey(stage)).ToList();
        Assert.True(unknown.Count == 0, $"namespaces outside the stage table (add them to AllowedDependencies): {string.Join(", ", unknown)}");
    }

    [Fact]
    public void Every_stage_uses_only_the_stages_it_is_allowed()
    {
        var offending = Actual.Value
            .SelectMany(stage => stage.Value
                .Where(used => !AllowedDependencies.TryGetValue(stage.Key, out var allowed) || !allowed.Contains(used))
                .Select(used => $"{stage.Key} → {used}"))
            .ToList();
        Assert.True(offending.Count == 0, $"stage dependencies outside the table: {string.Join("; ", offending)}");
    }

    [Fact]
    public void The_allowed_stage_dependencies_form_no_cycle() =>
        Assert.Empty(Cycles(AllowedDependencies.ToDictionary(s => s.Key, s => (IEnumerable<string>)s.Value)));

    [Fact]
    public void Orchestration_has_no_namespace_cycles()
    {
        var cycles = Cycles(Actual.Value.ToDictionary(s => s.Key, s => (IEnumerable<string>)s.Value));
        Assert.True(cycles.Count == 0, $"namespace cycles (each group depends on itself through its members): {string.Join("; ", cycles.Select(c => "{" + string.Join(", ", c.Order(StringComparer.Ordinal)) + "}"))}");
    }

    [Fact]
    public void The_stage_graph_is_read_from_the_il()
    {
        // Guards the test itself: a reader that saw nothing would pass every rule above.
        var graph = Actual.Value;
        Assert.Contains("Jobs", graph["Runs"]);
        Assert.Contains("Worker", graph["Hosting"]);
        Assert.Contains("Store", graph["Registry"]);
    }

    [Fact]
    public void Pipelines_does_not_know_orchestration_and_core_does_not_know_pipelines()
    {
        Assert.DoesNotContain(typeof(PipelineLoader).Assembly.GetReferencedAssemblies(), a => a.Name == Root);
        Assert.DoesNotContain(typeof(Core.Runs.RunStep).Assembly.GetReferencedAssemblies(), a => a.Name is Root or "FeedbackLoop.Pipelines");
    }

    [Fact]
    public void The_cycle_finder_finds_a_cycle()
    {
        var cycles = Cycles(new Dictionary<string, IEnumerable<string>>
        {
            ["Jobs"] = ["Runs"],
            ["Runs"] = ["Jobs", "Registry"],
            ["Registry"] = [],
        });
        Assert.Equal(["Jobs", "Runs"], Assert.Single(cycles).Order(StringComparer.Ordinal));
    }

    /// <summary>Stage (namespace below <see cref="Root"/>) → the other stages its types use.</summary>
    private static Dictionary<string, SortedSet<string>> StageGraph(string assemblyPath)
    {
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        var graph = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var type in module.GetTypes())
        {
            if (StageOf(type) is not { } stage)
            {
                continue;
            }

            var uses = graph.TryGetValue(stage, out var set) ? set : graph[stage] = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var used in UsedTypes(type))
            {
                if (StageOf(used) is { } other && other != stage)
                {
                    uses.Add(other);
                }
            }
        }

        return graph;
    }

    /// <summary>The stage of a type of ours (nested types belong to their outermost type's namespace); null for anything else.</summary>
    private static string? StageOf(TypeReference type)
    {
        while (type is TypeSpecification specification)
        {
            type = specification.ElementType;
        }

        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }

        var ns = type.Namespace;
        return ns.StartsWith(Root + ".", StringComparison.Ordinal) ? ns[(Root.Length + 1)..].Split('.')[0] : null;
    }

    private static IEnumerable<TypeReference> UsedTypes(TypeDefinition type)
    {
        if (type.BaseType is not null) foreach (var t in Expand(type.BaseType)) yield return t;
        foreach (var i in type.Interfaces) foreach (var t in Expand(i.InterfaceType)) yield return t;
        foreach (var a in type.CustomAttributes) yield return a.AttributeType;
        foreach (var f in type.Fields) foreach (var t in Expand(f.FieldType)) yield return t;
        foreach (var p in type.Properties) foreach (var t in Expand(p.PropertyType)) yield return t;
        foreach (var method in type.Methods)
        {
            foreach (var t in Expand(method.ReturnType)) yield return t;
            foreach (var p in method.Parameters) foreach (var t in Expand(p.ParameterType)) yield return t;
            foreach (var a in method.CustomAttributes) yield return a.AttributeType;
            if (!method.HasBody) continue;
            foreach (var v in method.Body.Variables) foreach (var t in Expand(v.VariableType)) yield return t;
            foreach (var instruction in method.Body.Instructions)
            {
                foreach (var t in OperandTypes(instruction)) yield return t;
            }
        }
    }

    private static IEnumerable<TypeReference> OperandTypes(Instruction instruction) => instruction.Operand switch
    {
        TypeReference t => Expand(t),
        MethodReference m => Expand(m.DeclaringType).Concat(Expand(m.ReturnType)).Concat(m.Parameters.SelectMany(p => Expand(p.ParameterType)))
            .Concat(m is GenericInstanceMethod g ? g.GenericArguments.SelectMany(Expand) : []),
        FieldReference f => Expand(f.DeclaringType).Concat(Expand(f.FieldType)),
        _ => [],
    };

    /// <summary>A type and the types inside it: element types of arrays and by-refs, and generic arguments.</summary>
    private static IEnumerable<TypeReference> Expand(TypeReference type)
    {
        yield return type;
        if (type is GenericInstanceType generic)
        {
            foreach (var argument in generic.GenericArguments) foreach (var t in Expand(argument)) yield return t;
        }

        if (type is TypeSpecification { ElementType: { } element } && !ReferenceEquals(element, type))
        {
            foreach (var t in Expand(element)) yield return t;
        }
    }

    /// <summary>The strongly connected components of more than one node, or with a self-edge (Tarjan).</summary>
    private static List<List<string>> Cycles(Dictionary<string, IEnumerable<string>> graph)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var cycles = new List<List<string>>();
        var next = 0;

        void Visit(string node)
        {
            index[node] = low[node] = next++;
            stack.Push(node);
            onStack.Add(node);
            foreach (var target in graph.TryGetValue(node, out var edges) ? edges : [])
            {
                if (!index.TryGetValue(target, out var targetIndex))
                {
                    Visit(target);
                    low[node] = Math.Min(low[node], low[target]);
                }
                else if (onStack.Contains(target))
                {
                    low[node] = Math.Min(low[node], targetIndex);
                }
            }

            if (low[node] != index[node]) return;
            var component = new List<string>();
            string member;
            do
            {
                member = stack.Pop();
                onStack.Remove(member);
                component.Add(member);
            }
            while (member != node);

            if (component.Count > 1 || (graph.TryGetValue(node, out var own) && own.Contains(node)))
            {
                cycles.Add(component);
            }
        }

        foreach (var node in graph.Keys.Where(n => !index.ContainsKey(n)).ToList())
        {
            Visit(node);
        }

        return cycles;
    }
}
