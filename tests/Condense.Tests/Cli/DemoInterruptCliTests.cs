// Ctrl-C during `condense demo`, sent as a real SIGINT to the real executable (Linux: `kill -INT`): the run
// says so in one line, exits with 130, and takes back what it created — a folder it made is gone, a folder
// that existed before stays with exactly what was in it.
using System.Diagnostics;

namespace Condense.Tests.Cli;

public sealed class DemoInterruptCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-demo-interrupt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // A process started with SIGINT ignored (a shell's background job without job control: `cmd &`) hands that on to the
    // demo through exec, and .NET leaves an ignored SIGINT ignored, so no Ctrl-C can reach it: nothing to test then.
    private static bool SigIntReachesChildren()
    {
        if (!OperatingSystem.IsLinux()) return false;
        string? ignored = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return ignored is null || (Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16) & (1UL << 1)) == 0;
    }

    // Starts the demo and interrupts it at the first line starting with `at`; `check` runs just before the signal is sent.
    private static CliRunner.Result Interrupt(string at, Action check, params string[] args)
    {
        using var process = CliRunner.Start(["demo", .. args]);
        try
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string seen = "";
            for (string? line = ""; line is not null && !line.StartsWith(at, StringComparison.Ordinal);)
            {
                line = process.StandardOutput.ReadLine();
                Assert.True(line is not null, $"the demo ended before '{at}':\n{seen}");
                seen += line + "\n";
            }
            check();
            using (var kill = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) kill.WaitForExit();
            string rest = process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(60_000)) { process.Kill(true); throw new TimeoutException("the demo did not stop on SIGINT"); }
            return new CliRunner.Result(process.ExitCode, seen + rest, stderr.Result);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);   // a failed assertion must not leave the demo running
        }
    }

    [Fact]
    public void InterruptedDemoRemovesTheFolderItCreated()
    {
        if (!SigIntReachesChildren()) return;
        string data = CliRunner.SmallData(_dir);
        string outDir = Path.Combine(_dir, "runs", "demo");   // neither folder exists yet
        // The teacher's first epoch: nothing is saved yet.
        var r = Interrupt("training teacher", () => Assert.Empty(Directory.EnumerateFileSystemEntries(outDir)), "--data", data, "--out", outDir);
        Assert.Equal(130, r.ExitCode);
        Assert.Equal(["interrupted; nothing written"], r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(Directory.Exists(Path.Combine(_dir, "runs")));
    }

    [Fact]
    public void InterruptedDemoLeavesAFolderThatExistedAsItWas()
    {
        if (!SigIntReachesChildren()) return;
        string data = CliRunner.SmallData(_dir);
        string outDir = Directory.CreateDirectory(Path.Combine(_dir, "mine")).FullName;
        File.WriteAllText(Path.Combine(outDir, "notes.txt"), "keep me");
        // The student's distillation starts after the teacher, three pruned models and the int8 model are saved.
        string teacher = Path.Combine(outDir, "teacher.safetensors");
        var r = Interrupt("distilling student", () => Assert.True(File.Exists(teacher)), "--quick", "--data", data, "--out", outDir);
        Assert.Equal(130, r.ExitCode);
        Assert.Contains("interrupted; nothing written", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(["notes.txt"], Directory.EnumerateFileSystemEntries(outDir).Select(Path.GetFileName));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(outDir, "notes.txt")));
    }
}
