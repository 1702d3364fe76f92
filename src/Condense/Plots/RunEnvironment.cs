// What a report says about where it was made, so two reports can be compared fairly: the Condense and .NET versions,
// the operating system, the processor and its instruction set, and the cores.
using System.Runtime.InteropServices;
using Condense.Kernels.Platform;

namespace Condense.Plots;

/// <summary>Versions and machine of the current run.</summary>
public static class RunEnvironment
{
    /// <summary>(key, value) lines: Condense, .NET, OS, processor, cores.</summary>
    public static IReadOnlyList<(string Key, string Value)> Describe() =>
    [
        ("Condense", typeof(RunEnvironment).Assembly.GetName().Version?.ToString(3) ?? "unknown"),
        (".NET", RuntimeInformation.FrameworkDescription),
        ("OS", $"{RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})"),
        ("processor", $"{ProcessorName()}, {Cpu.Active} kernels"),
        ("cores", System.Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];

    // The model name from /proc/cpuinfo where there is one (Linux), else the architecture.
    private static string ProcessorName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                        return line[(colon + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
