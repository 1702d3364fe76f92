// OutputPaths and CreatedFiles against the file system itself: real paths through file and folder links
// (the oracle is what the links point at, built by hand), the refusals and their messages, the probe that
// finds /proc unwritable even for root and leaves nothing behind, and an undo that removes only what a run made.
using Condense.Tests.Formats;

namespace Condense.Tests;

public sealed class OutputPathsTests : IDisposable
{
    private readonly ScratchDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void RealPathFollowsLinksOnTheFileAndOnEveryFolder()
    {
        string real = Directory.CreateDirectory(_dir.File("real")).FullName;
        string model = Path.Combine(real, "m.safetensors");
        File.WriteAllText(model, "x");
        string folderLink = _dir.File("folder-link");
        Directory.CreateSymbolicLink(folderLink, real);
        string fileLink = Path.Combine(folderLink, "link.safetensors");
        File.CreateSymbolicLink(fileLink, "m.safetensors");   // relative, resolved beside the link
        string chain = _dir.File("chain");
        File.CreateSymbolicLink(chain, fileLink);              // a link to a link under a linked folder

        Assert.Equal(model, OutputPaths.RealPath(Path.Combine(folderLink, "m.safetensors")));
        Assert.Equal(model, OutputPaths.RealPath(fileLink));
        Assert.Equal(model, OutputPaths.RealPath(chain));
        // A file that does not exist yet keeps its name under the resolved folder.
        Assert.Equal(Path.Combine(real, "new", "out.onnx"), OutputPaths.RealPath(Path.Combine(folderLink, "new", "out.onnx")));
    }

    [Fact]
    public void AnOutputOnAnInputIsRefusedWithItsRole()
    {
        string model = _dir.File("m.safetensors");
        File.WriteAllText(model, "x");
        string link = _dir.File("l.safetensors");
        File.CreateSymbolicLink(link, model);
        string data = Directory.CreateDirectory(_dir.File("data")).FullName;
        File.WriteAllText(Path.Combine(data, "train-images-idx3-ubyte"), "x");

        var e = Assert.Throws<CondenseException>(() => OutputPaths.CheckFile(link, new RunInput("input model", model)));
        Assert.Equal($"the output {link} would overwrite the input model {model}", e.Message);
        e = Assert.Throws<CondenseException>(() => OutputPaths.CheckFile(Path.Combine(data, "train-images-idx3-ubyte"), new RunInput("data", data)));
        Assert.StartsWith("the output ", e.Message);
        Assert.Contains("would overwrite the data", e.Message);
        Assert.Throws<CondenseException>(() => OutputPaths.CheckFile(data));   // a folder is no output file
        OutputPaths.CheckFile(_dir.File("other.safetensors"), new RunInput("input model", model), new RunInput("data", data), new RunInput("teacher", null));
        Assert.Equal(["data", "l.safetensors", "m.safetensors"], Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void TheProbeFindsUnwritableFoldersAndLeavesNothingBehind()
    {
        // /proc takes no new file even for root, whom permission bits never stop.
        var e = Assert.Throws<CondenseException>(() => OutputPaths.CheckFile("/proc/q.safetensors"));
        Assert.StartsWith("cannot write to the output folder /proc (", e.Message);
        Assert.DoesNotContain("probe", e.Message);
        e = Assert.Throws<CondenseException>(() => OutputPaths.CheckFolder("/proc/a/b"));
        Assert.StartsWith("cannot create the output folder /proc/a/b in /proc (", e.Message);
        e = Assert.Throws<CondenseException>(() => OutputPaths.CheckFile(_dir.File(Path.Combine("missing", "m.onnx"))));
        Assert.EndsWith("does not exist", e.Message);

        OutputPaths.CheckFile(_dir.File("fine.safetensors"));
        OutputPaths.CheckFolder(_dir.File(Path.Combine("new", "deeper")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path));   // no probe file, no folder created
    }

    [Fact]
    public void CreatedFilesRemovesOnlyWhatTheRunMade()
    {
        string existing = Directory.CreateDirectory(_dir.File("existing")).FullName;
        File.WriteAllText(Path.Combine(existing, "mine.txt"), "keep");
        var created = new CreatedFiles();
        created.CreateFolder(existing);
        created.CreateFolder(_dir.File(Path.Combine("a", "b", "c")));
        File.WriteAllText(created.Wrote(Path.Combine(existing, "run.bin")), "x");
        File.WriteAllText(created.Wrote(_dir.File(Path.Combine("a", "b", "c", "run.bin"))), "x");
        File.WriteAllText(_dir.File(Path.Combine("a", "other.txt")), "someone else's");

        created.RemoveAll();

        Assert.Equal(["mine.txt"], Directory.EnumerateFileSystemEntries(existing).Select(Path.GetFileName));
        Assert.False(Directory.Exists(_dir.File(Path.Combine("a", "b"))));
        Assert.True(File.Exists(_dir.File(Path.Combine("a", "other.txt"))));   // "a" was made by the run but is not empty
    }
}
