// Helpers for the data tests: a temp folder deleted afterwards, the repository root (to find
// data/mnist), and an assertion that a loader error is one line naming the file and the fault.
using System.IO.Compression;

namespace Condense.Tests.Data;

/// <summary>A fresh temp folder, deleted on Dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "condense-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public static class TestFiles
{
    /// <summary>The folder holding Condense.slnx, found by walking up from the test binaries.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Condense.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"no Condense.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>data/mnist in the repository.</summary>
    public static string MnistDir => Path.Combine(RepoRoot(), "data", "mnist");

    /// <summary>The shipped evaluation text: 431 passages, one per line (data/text/README.md).</summary>
    public static string Fortunes => Path.Combine(RepoRoot(), "data", "text", "fortunes.txt");

    /// <summary>The decompressed bytes of a gzipped file.</summary>
    public static byte[] Gunzip(string path)
    {
        using var zip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        zip.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>Asserts the error is a single line that contains every fragment (file name, fault).</summary>
    public static void AssertOneLine(Exception e, params string[] fragments)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        foreach (string f in fragments) Assert.Contains(f, e.Message);
    }
}
