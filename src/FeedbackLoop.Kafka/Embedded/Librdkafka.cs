using System.Runtime.InteropServices;

namespace FeedbackLoop.Kafka.Embedded;

/// <summary>
/// Finds and loads the librdkafka build shipped by the <c>librdkafka.redist</c> package for this
/// assembly's P/Invokes (<see cref="LibrdkafkaImports"/>).
/// </summary>
/// <remarks>
/// The default probe binds <c>runtimes/linux-x64/native/librdkafka.so</c>, which links GSSAPI and
/// fails to dlopen on hosts without <c>libsasl2.so.3</c> (Debian 12 among them); the
/// <c>centos8-librdkafka.so</c> next to it has no such dependency. So this type tries the candidates
/// in order and binds the first that loads and exports the mock-cluster API. The order matches the
/// one Confluent.Kafka's own loader uses, so on any given host both end up on the same file and the
/// process holds one copy of librdkafka. Confluent.Kafka needs none of this: it falls back to the
/// centos8 build by itself.
/// </remarks>
internal static class Librdkafka
{
    /// <summary>The library name every import in <see cref="LibrdkafkaImports"/> uses.</summary>
    public const string LibraryName = "librdkafka";

    // A symbol only the mock cluster exports: a librdkafka built without it is useless here.
    private const string RequiredExport = "rd_kafka_mock_cluster_new";

    // Lazy caches a failure too: the files on disk will not change while the process runs.
    private static readonly Lazy<nint> Handle = new(LoadAndRegisterResolver, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Loads librdkafka and routes this assembly's imports to it; idempotent. Call it before the first
    /// P/Invoke, or that call would bind through the default probe.
    /// </summary>
    /// <exception cref="DllNotFoundException">No candidate loaded; the message lists each one tried and why.</exception>
    public static void EnsureLoaded() => _ = Handle.Value;

    /// <summary>The files tried, in order, for the current OS and architecture.</summary>
    public static IReadOnlyList<string> CandidatePaths()
    {
        var baseDirectory = AppContext.BaseDirectory;
        var (rid, fileNames) = NativeAssetsForThisPlatform();
        var paths = new List<string>();
        foreach (var fileName in fileNames)
        {
            // Framework-dependent builds keep the package layout under runtimes/; a RID-specific
            // publish copies the native asset next to the assemblies instead.
            paths.Add(Path.Combine(baseDirectory, "runtimes", rid, "native", fileName));
            paths.Add(Path.Combine(baseDirectory, fileName));
        }

        return paths;
    }

    private static nint LoadAndRegisterResolver()
    {
        var handle = LoadFirstCandidate();
        // One resolver per assembly is all the runtime allows; this is the only one in FeedbackLoop.Kafka.
        NativeLibrary.SetDllImportResolver(typeof(Librdkafka).Assembly, (name, _, _) => name == LibraryName ? handle : 0);
        return handle;
    }

    private static nint LoadFirstCandidate()
    {
        var failures = new List<string>();
        foreach (var path in CandidatePaths())
        {
            if (!File.Exists(path))
            {
                failures.Add($"{path}: not found");
                continue;
            }

            try
            {
                var handle = NativeLibrary.Load(path);
                if (NativeLibrary.TryGetExport(handle, RequiredExport, out _))
                {
                    return handle;
                }

                NativeLibrary.Free(handle);
                failures.Add($"{path}: loads but does not export {RequiredExport}");
            }
            catch (DllNotFoundException ex)
            {
                // The dlopen error names the missing dependency, which is what the reader needs.
                failures.Add($"{path}: {ex.Message}");
            }
            catch (BadImageFormatException ex)
            {
                failures.Add($"{path}: {ex.Message}");
            }
        }

        // Last resort: the runtime's own probe (deps.json native assets, then the OS search path).
        if (NativeLibrary.TryLoad(LibraryName, typeof(Librdkafka).Assembly, null, out var probed)
            && NativeLibrary.TryGetExport(probed, RequiredExport, out _))
        {
            return probed;
        }

        failures.Add($"'{LibraryName}' through the default probe: not loadable or lacks {RequiredExport}");
        throw new DllNotFoundException(
            $"Could not load librdkafka for the embedded Kafka cluster ({RuntimeInformation.RuntimeIdentifier}). "
            + "Reference the librdkafka.redist package (Confluent.Kafka brings it) so its runtimes/ folder is copied to the output; "
            + "on Linux, librdkafka.so also needs libsasl2.so.3 while centos8-librdkafka.so does not. Tried:"
            + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", failures));
    }

    private static (string Rid, string[] FileNames) NativeAssetsForThisPlatform()
    {
        var arch = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "x64",
            Architecture.Arm64 => "arm64",
            Architecture.X86 => "x86",
            var other => other.ToString().ToLowerInvariant(),
        };

        if (OperatingSystem.IsWindows())
        {
            return ($"win-{arch}", ["librdkafka.dll"]);
        }

        if (OperatingSystem.IsMacOS())
        {
            return ($"osx-{arch}", ["librdkafka.dylib"]);
        }

        // A musl runtime reports a linux-musl-* identifier; the glibc builds cannot load there.
        var isMusl = RuntimeInformation.RuntimeIdentifier.Contains("musl", StringComparison.Ordinal);
        string[] fileNames = isMusl
            ? ["alpine-librdkafka.so", "librdkafka.so"]
            : ["librdkafka.so", "centos8-librdkafka.so"];
        return ($"linux-{arch}", fileNames);
    }
}
