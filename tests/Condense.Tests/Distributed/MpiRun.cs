using System.Diagnostics;

namespace Condense.Tests.Distributed;

/// <summary>Runs the real `condense` executable under Open MPI's mpirun (installed by .ci/run), as a user would.</summary>
internal static class MpiRun
{
    public const string Mpirun = "/usr/bin/mpirun";

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>mpirun's arguments for <paramref name="ranks"/> ranks of condense with <paramref name="args"/>.</summary>
    public static List<string> Ranks(int ranks, params string[] args) =>
        ["-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), Dotnet, CondenseDll, .. args];

    /// <summary>Runs mpirun with <paramref name="appArgs"/> (one or more ':'-separated app contexts from <see cref="Ranks"/>).</summary>
    public static Result Run(IReadOnlyList<string> appArgs, IReadOnlyDictionary<string, string>? environment = null, int timeoutMs = 240_000)
    {
        using var process = Start(appArgs, environment);
        return Wait(process, timeoutMs);
    }

    public static Process Start(IReadOnlyList<string> appArgs, IReadOnlyDictionary<string, string>? environment = null)
    {
        Assert.True(File.Exists(Mpirun), "Open MPI's mpirun is missing: .ci/run installs openmpi-bin");
        var info = new ProcessStartInfo(Mpirun)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-q", "--oversubscribe", "-x", "DOTNET_PROCESSOR_COUNT=1" }) info.ArgumentList.Add(a);
        foreach (var a in appArgs) info.ArgumentList.Add(a);
        // Test machines run as root; Open MPI refuses root without these two.
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        info.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        return Process.Start(info)!;
    }

    public static Result Wait(Process process, int timeoutMs = 240_000)
    {
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutMs)) { process.Kill(true); throw new TimeoutException("mpirun did not finish"); }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The condense process of <paramref name="rank"/> whose command line mentions <paramref name="marker"/>, or null.</summary>
    public static int? FindRank(int rank, string marker)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                if (!File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(marker, StringComparison.Ordinal)) continue;
                var environ = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0');
                if (environ.Contains($"OMPI_COMM_WORLD_RANK={rank}")) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return null;
    }

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    private static string CondenseDll => Path.Combine(AppContext.BaseDirectory, "Condense.Cli.dll");
}
