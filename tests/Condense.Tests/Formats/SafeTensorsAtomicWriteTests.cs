// SafeTensors.Write replaces files atomically: no temp file survives, and a failed write leaves the
// previous file exactly as it was; a failure names the target, not the temp file.
using Condense.Formats;
using Condense.Tensors;

namespace Condense.Tests.Formats;

public sealed class SafeTensorsAtomicWriteTests : IDisposable
{
    private readonly ScratchDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Dictionary<string, Tensor> One(float v) => new() { ["w"] = Tensor.Full(v, 3) };

    [Fact]
    public void WritingLeavesOnlyTheTargetFile()
    {
        string path = _dir.File("m.safetensors");
        SafeTensors.WriteFloat(path, One(1f), null);
        SafeTensors.WriteFloat(path, One(2f), null); // overwrite

        Assert.Equal(["m.safetensors"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
        Assert.Equal(2f, SafeTensors.Read(path)["w"].ToFloatTensor().Data[0]);
    }

    [Fact]
    public void DuplicateNamesFailAndKeepTheOldFile()
    {
        string path = _dir.File("m.safetensors");
        SafeTensors.WriteFloat(path, One(1f), null);
        byte[] before = File.ReadAllBytes(path);
        var w = SafeTensorEntry.FromFloat("w", Tensor.Full(2f, 3));

        Assert.Throws<ArgumentException>(() => SafeTensors.Write(path, [w, w], null));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(_dir.Path));
    }

    [Fact]
    public void AFailedRenameRemovesTheTempFile()
    {
        // The target is a directory, so the temp file is written and the final move fails.
        string path = _dir.File("taken");
        Directory.CreateDirectory(path);

        var e = Assert.Throws<CondenseException>(() => SafeTensors.WriteFloat(path, One(1f), null));

        // The message names the target the caller asked for, never the temp file that no longer exists.
        Assert.StartsWith($"cannot write {path} (", e.Message);
        Assert.DoesNotContain(".tmp", e.Message);
        Assert.Empty(Directory.GetFiles(_dir.Path));
        Assert.True(Directory.Exists(path));
    }
}
