// Never destroy an input, never waste a run — through the real executable: an output that resolves to an
// input (directly or through a symbolic link) is refused and the input stays byte for byte; an output folder
// that cannot be written, or a file name with no model format, fails before any training, naming the folder and
// never a temp file; a sensitivity report of another model, or a damaged one, is refused in one line. The tests run
// as root, for whom a chmod 555 folder is still writable, so the unwritable folders here are /proc (no new files,
// even for root) and a "folder" that is a regular file.
using Condense.Formats;
using System.Text.Json;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;

namespace Condense.Tests.Cli;

public sealed class OutputSafetyCliTests() : CliWorkspace("condense-safety-cli-")
{
    private static void AssertNoTempNames(CliRunner.Result r)
    {
        foreach (var fragment in new[] { ".tmp", "probe", ".condense" })
            Assert.DoesNotContain(fragment, r.Stderr + r.Stdout, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void SensitivityOntoTheModelIsRefusedAndTheModelIsUntouched()
    {
        byte[] before = File.ReadAllBytes(Model);
        var r = CliRunner.Run("sensitivity", Model, "--data", Data, "-o", Model);
        AssertOneLineError(r, $"the output {Model} would overwrite the input model {Model}");
        Assert.Equal(before, File.ReadAllBytes(Model));
    }

    [Fact]
    public void ASymbolicLinkCannotSmuggleTheModelIn()
    {
        byte[] before = File.ReadAllBytes(Model);
        string link = Path.Combine(Dir, "link.safetensors");
        File.CreateSymbolicLink(link, Model);
        // A linked folder on the way counts too.
        string folderLink = Path.Combine(Dir, "same");
        Directory.CreateSymbolicLink(folderLink, Dir);

        AssertOneLineError(CliRunner.Run("prune", link, "--data", Data, "-o", Model), "would overwrite the input model");
        AssertOneLineError(CliRunner.Run("prune", Model, "--data", Data, "-o", link), "would overwrite the input model");
        string throughFolder = Path.Combine(folderLink, "model.safetensors");
        AssertOneLineError(CliRunner.Run("prune", Model, "--data", Data, "-o", throughFolder), "would overwrite the input model");
        AssertOneLineError(CliRunner.Run("quantize", link, "--data", Data, "-o", Model), "would overwrite the input model");
        var distill = CliRunner.Run("distill", "--teacher", link, "--student", "mlp:784-8-10", "--data", Data, "-o", Model);
        AssertOneLineError(distill, "would overwrite the teacher");
        // A data file is an input as well.
        string images = Path.Combine(Data, "train-images-idx3-ubyte");
        AssertOneLineError(CliRunner.Run("train", "--data", Data, "-o", images), "would overwrite the data");
        Assert.Equal(before, File.ReadAllBytes(Model));
        Assert.Equal(before, File.ReadAllBytes(link));
    }

    [Fact]
    public void AnUnwritableOutputFolderFailsBeforeTraining()
    {
        string notAFolder = Path.Combine(Model, "out.safetensors");   // its "folder" is the model file
        var cases = new (string[] Args, string Fragment)[]
        {
            (["train", "--epochs", "50", "--data", Data, "-o", "/proc/q.safetensors"], "cannot write to the output folder /proc"),
            (["train", "--epochs", "50", "--data", Data, "-o", notAFolder], $"output folder {Model} is a file"),
            (["prune", Model, "--finetune-epochs", "50", "--data", Data, "-o", "/proc/q.safetensors"], "cannot write to the output folder /proc"),
            (["distill", "--teacher", Model, "--student", "mlp:784-8-10", "--epochs", "50", "--data", Data, "-o", "/proc/q.onnx"], "output folder /proc"),
            (["share", Model, "--finetune-epochs", "50", "--data", Data, "-o", "/proc/q.safetensors"], "output folder /proc"),
            (["quantize", Model, "--data", Data, "-o", "/proc/q.safetensors"], "output folder /proc"),
            (["sensitivity", Model, "--data", Data, "-o", "/proc/q.json"], "output folder /proc"),
            (["demo", "--data", Data, "--out", "/proc/demo"], "cannot create the output folder /proc/demo"),
            (["demo", "--data", Data, "--out", Path.Combine(Model, "demo")], "is a file"),
            // A file name no model format has is refused before the work, not when the model is saved.
            (["train", "--epochs", "50", "--data", Data, "-o", Path.Combine(Dir, "model.txt")], "model.txt: unsupported model format '.txt'"),
            (["prune", Model, "--finetune-epochs", "50", "--data", Data, "-o", Path.Combine(Dir, "p.txt")], "unsupported model format"),
            (["distill", "--teacher", Model, "--student", "mlp:784-8-10", "--epochs", "50", "--data", Data, "-o", Path.Combine(Dir, "d.pt")],
                "unsupported model format '.pt'"),
            (["share", Model, "--finetune-epochs", "50", "--data", Data, "-o", Path.Combine(Dir, "s.bin")], "unsupported model format"),
        };
        foreach (var (args, fragment) in cases)
        {
            var r = CliRunner.Run(args);
            // One line on stderr and nothing on stdout: no epoch was trained (progress would be on stdout).
            AssertOneLineError(r, fragment);
            AssertNoTempNames(r);
        }
        Assert.Equal(["data", "model.safetensors"], Directory.EnumerateFileSystemEntries(Dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void TwoModelsKeepTheirOwnDefaultSensitivityReports()
    {
        string other = Path.Combine(Dir, "other.safetensors");
        ModelFile.Save(ModelSpec.Parse("mlp:784-16-10").Build(1), other, [784], "mlp:784-16-10");
        foreach (var model in new[] { Model, other })
        {
            var r = CliRunner.Run("sensitivity", model, "--sparsities", "0,0.5", "--samples", "50", "--data", Data, "--json");
            Assert.True(r.ExitCode == 0, r.Stderr);
            using var json = JsonDocument.Parse(r.Stdout);
            string expected = Path.ChangeExtension(model, null) + ".sensitivity.json";
            Assert.Equal(expected, json.RootElement.GetProperty("output").GetString());
            // The report on disk records the fingerprint of the weights it was made from.
            using var saved = JsonDocument.Parse(File.ReadAllText(expected));
            Assert.Equal(ModelFingerprint.Of(ModelFile.Load(model)), saved.RootElement.GetProperty("model_sha256").GetString());
        }
        Assert.NotEqual(File.ReadAllText(Path.Combine(Dir, "model.sensitivity.json")), File.ReadAllText(Path.Combine(Dir, "other.sensitivity.json")));
    }

    [Fact]
    public void ASensitivityReportOfAnotherModelIsRefused()
    {
        string other = Path.Combine(Dir, "other.safetensors");
        // Same architecture and tensor names, other weights: only the fingerprint tells them apart.
        ModelFile.Save(ModelSpec.Parse("mlp:784-32-10").Build(5), other, [784], "mlp:784-32-10");
        Assert.Equal(0, CliRunner.Run("sensitivity", other, "--sparsities", "0,0.5,0.9", "--samples", "50", "--data", Data).ExitCode);
        string report = Path.Combine(Dir, "other.sensitivity.json");
        string output = Path.Combine(Dir, "pruned.safetensors");

        AssertOneLineError(CliRunner.Run("prune", Model, "--sensitivity", report, "--sparsity", "0.8", "--data", Data, "-o", output),
            "other.sensitivity.json was made for another model");
        Assert.False(File.Exists(output));

        // A report without a fingerprint (written before it was recorded) is refused as well.
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(report))!.AsObject();
        Assert.True(node.Remove("model_sha256"));
        File.WriteAllText(report, node.ToJsonString());
        AssertOneLineError(CliRunner.Run("prune", other, "--sensitivity", report, "--sparsity", "0.8", "--data", Data, "-o", output),
            "does not record which model");
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("row", "null", "row 1 is empty")]
    [InlineData("tensor", "null", "row 1 names no tensor")]
    [InlineData("accuracies", "[0.5]", "needs one accuracy per swept sparsity (3 sparsities, 1 accuracies)")]
    [InlineData("sparsities", "null", "(0 sparsities, 3 accuracies)")]
    [InlineData("sparsities", "[0, 0.5, 5]", "sparsity 5 is not in [0, 1]")]
    [InlineData("parameters", "0", "has 0 parameters")]
    [InlineData("duplicate", "", "has two rows")]
    [InlineData("tensor", "\"nope\"", "has a row for 'nope', which is not a tensor of this model")]
    public void ADamagedSensitivityReportIsOneLineNamingTheFault(string field, string value, string message)
    {
        Assert.Equal(0, CliRunner.Run("sensitivity", Model, "--sparsities", "0,0.5,0.9", "--samples", "50", "--data", Data).ExitCode);
        string report = Path.Combine(Dir, "model.sensitivity.json");
        // The fingerprint still matches: only the rows were edited (by hand, or by a damaged disk).
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(report))!.AsObject();
        var rows = node["rows"]!.AsArray();
        if (field == "duplicate") rows.Add(rows[0]!.DeepClone());
        else if (field == "row") rows[0] = null;
        else rows[0]![field] = System.Text.Json.Nodes.JsonNode.Parse(value);
        File.WriteAllText(report, node.ToJsonString());
        string output = Path.Combine(Dir, "pruned.safetensors");

        var r = CliRunner.Run("prune", Model, "--sensitivity", report, "--sparsity", "0.5", "--data", Data, "-o", output);
        AssertOneLineError(r, message);
        Assert.Equal(1, r.ExitCode);   // a bad file, not an internal error (exit 2)
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void ARunThatEndsAtChanceSaysSo()
    {
        // lr 50 diverges: the model predicts one class for everything.
        string diverged = Path.Combine(Dir, "diverged.safetensors");
        var r = CliRunner.Run("train", "--model", "mlp:784-16-10", "--epochs", "1", "--lr", "50", "--data", Data, "-o", diverged, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        var warnings = json.RootElement.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()!).ToList();
        Assert.Contains(warnings, w => w.Contains("chance level", StringComparison.Ordinal));
        Assert.Contains(r.Stderr.Split('\n'), l => l.StartsWith("warning: ", StringComparison.Ordinal) && l.Contains("chance level", StringComparison.Ordinal));

        // Pruning away nearly everything, without fine-tuning, ends far below the model it started from.
        var p = CliRunner.Run("prune", Model, "--sparsity", "0.998", "--data", Data, "-o", Path.Combine(Dir, "gutted.safetensors"));
        Assert.True(p.ExitCode == 0, p.Stderr);
        Assert.Contains(p.Stdout.Split('\n'),
            l => l.StartsWith("warning: ", StringComparison.Ordinal) && l.Contains("points below the model before pruning", StringComparison.Ordinal));

        // A healthy run has no warnings key at all.
        var good = CliRunner.Run("prune", Model, "--sparsity", "0.3", "--data", Data, "-o", Path.Combine(Dir, "light.safetensors"), "--json");
        Assert.True(good.ExitCode == 0, good.Stderr);
        using var goodJson = JsonDocument.Parse(good.Stdout);
        Assert.False(goodJson.RootElement.TryGetProperty("warnings", out _));
        Assert.DoesNotContain("warning:", good.Stderr, StringComparison.Ordinal);
    }
}
