// ONNX Runtime's InferenceSession.Run hands runOptions.Handle to native code without GC.KeepAlive, so a RunOptions
// created inline in the call can be finalized by a GC on another thread while ORT still reads it. It crashed the test
// host intermittently (SIGSEGV in libonnxruntime, or "Invalid run log severity level" read from freed memory; reproduced
// with full JIT optimisation and a thread forcing GCs). Every caller in tests and benches must hold it in a `using`.
using System.Text.RegularExpressions;
using Condense.Tests.Data;

namespace Condense.Tests.Onnx;

public class OrtRunOptionsLifetimeTests
{
    [Fact]
    public void NoTestOrBenchPassesAnInlineRunOptionsToOnnxRuntime()
    {
        var inline = new Regex(@"\.Run\(\s*new\s+RunOptions\s*\(");
        string root = TestFiles.RepoRoot();
        var offenders = new[] { "tests", "bench", "src" }
            .SelectMany(dir => Directory.EnumerateFiles(Path.Combine(root, dir), "*.cs", SearchOption.AllDirectories))
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Where(path => Path.GetFileName(path) != "OrtRunOptionsLifetimeTests.cs" && inline.IsMatch(File.ReadAllText(path)))
            .Select(path => Path.GetRelativePath(root, path))
            .ToList();
        Assert.True(offenders.Count == 0, "inline `new RunOptions()` in Run: " + string.Join(", ", offenders));
    }

    [Fact]
    public void ThePatternCatchesTheCrashingForm()
    {
        // The guard above must be able to fail: the exact form that crashed is matched, the fixed form is not.
        var inline = new Regex(@"\.Run\(\s*new\s+RunOptions\s*\(");
        Assert.Matches(inline, "using var results = session.Run(new RunOptions(), names, values, outputs);");
        Assert.DoesNotMatch(inline, "using var results = session.Run(runOptions, names, values, outputs);");
    }
}
