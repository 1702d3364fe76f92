using System.Diagnostics;
using Condense.Data;

namespace Condense.Tests.Cli;

/// <summary>Runs the real `condense` executable (built beside the tests) and captures what a user would see.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunIn(null, args);

    /// <summary>Runs condense in <paramref name="workingDirectory"/> (null: this process's).</summary>
    public static Result RunIn(string? workingDirectory, params string[] args)
    {
        using var process = StartIn(workingDirectory, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(180_000)) { process.Kill(true); throw new TimeoutException("condense did not finish"); }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts `condense` with <paramref name="args"/>, stdout and stderr redirected, for tests that talk to the running process.</summary>
    public static Process Start(params string[] args) => StartIn(null, args);

    private static Process StartIn(string? workingDirectory, string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Condense.Cli.dll");
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    /// <summary>Writes a small MNIST-format folder (600 train, 200 test images) under <paramref name="dir"/>, for fast runs.</summary>
    public static string SmallData(string dir)
    {
        var (train, test) = Mnist.LoadEmbedded();
        string folder = Path.Combine(dir, "data");
        Directory.CreateDirectory(folder);
        void Write(string prefix, Dataset d, int n)
        {
            var pixels = d.Features.Take(n * 784).Select(v => (byte)MathF.Round(v * 255)).ToArray();
            IdxWriter.Write(Path.Combine(folder, $"{prefix}-images-idx3-ubyte"), IdxArray.FromBytes(pixels, n, 28, 28));
            IdxWriter.Write(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte"), IdxArray.FromBytes(d.Labels!.Take(n).Select(l => (byte)l).ToArray(), n));
        }
        Write("train", train, 600);
        Write("t10k", test, 200);
        return folder;
    }

    /// <summary>Asserts what a user must see for bad input: a non-zero exit, nothing on stdout, one "error: " line on stderr.</summary>
    public static void AssertOneLineError(Result r, string expectedFragment)
    {
        Assert.NotEqual(0, r.ExitCode);
        Assert.Equal("", r.Stdout.Trim());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got:\n{r.Stderr}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expectedFragment, lines[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", r.Stderr);
    }
}
