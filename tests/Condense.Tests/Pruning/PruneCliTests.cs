// The `prune` and `sensitivity` commands as a user runs them: JSON checked against the saved files,
// and bad input reported as one line on stderr with a non-zero exit code.
using Condense.Formats;
using System.Text.Json;
using Condense.Data;
using Condense.Graph;
using Condense.Tests.Cli;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class PruneCliTests() : CliWorkspace("condense-prune-cli-")
{
    [Fact]
    public void GlobalPruneJsonMatchesTheSavedFile()
    {
        string output = Path.Combine(Dir, "pruned.safetensors");
        var r = CliRunner.Run("prune", Model, "--sparsity", "0.8", "--global", "--finetune-epochs", "1", "--data", Data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        var root = json.RootElement;
        string[] keys =
        [
            "accuracy", "accuracy_before", "accuracy_after_pruning", "parameters", "nonzero_parameters", "sparsity", "file_bytes", "output", "tensors",
        ];
        foreach (var key in keys)
            Assert.True(root.TryGetProperty(key, out _), $"missing key {key}");
        Assert.Equal(output, root.GetProperty("output").GetString());
        var saved = Checkpoint.Load(output);
        long parameters = saved.Parameters().Sum(p => (long)p.Size);
        long nonzero = saved.Parameters().Sum(p => p.Size - Zeros(p.Data));
        Assert.Equal(parameters, root.GetProperty("parameters").GetInt64());
        Assert.Equal(nonzero, root.GetProperty("nonzero_parameters").GetInt64());
        Assert.Equal(1.0 - (double)nonzero / parameters, root.GetProperty("sparsity").GetDouble(), 12);
        Assert.Equal(new FileInfo(output).Length, root.GetProperty("file_bytes").GetInt64());
        Assert.Equal(new FileInfo(Model).Length, root.GetProperty("file_bytes_before").GetInt64());
        var tensors = root.GetProperty("tensors").EnumerateArray().ToList();
        Assert.Equal(saved.NamedParameters().Count(), tensors.Count);
        foreach (var t in tensors)
        {
            var p = Param(saved, t.GetProperty("name").GetString()!);
            Assert.Equal(p.Size - Zeros(p.Data), t.GetProperty("nonzero_parameters").GetInt64());
        }
        long weightZeros = saved.NamedParameters().Where(p => p.Name.EndsWith("weight", StringComparison.Ordinal)).Sum(p => Zeros(p.Parameter.Data));
        Assert.Equal(Expected(0.8, 784 * 32 + 32 * 10), weightZeros);
    }

    [Fact]
    public void StructuredPruneShrinksTheModel()
    {
        string output = Path.Combine(Dir, "structured.safetensors");
        var r = CliRunner.Run("prune", Model, "--structured", "--ratio", "0.5", "--data", Data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        long after = json.RootElement.GetProperty("parameters").GetInt64();
        Assert.Equal(784 * 32 + 32 + 32 * 10 + 10, json.RootElement.GetProperty("parameters_before").GetInt64());
        Assert.Equal(784 * 16 + 16 + 16 * 10 + 10, after);
        Assert.Equal(after, Checkpoint.Load(output).Parameters().Sum(p => (long)p.Size));
        Assert.True(new FileInfo(output).Length < new FileInfo(Model).Length);
    }

    [Fact]
    public void StructuredPruneOfLeNet5WritesASmallerOnnx()
    {
        string lenet = Path.Combine(Dir, "lenet.safetensors"), output = Path.Combine(Dir, "small.onnx");
        Condense.Formats.ModelFile.Save(Condense.Nn.ModelSpec.Parse("lenet5").Build(3), lenet, [784], "lenet5");
        var r = CliRunner.Run(
            "prune", lenet, "--structured", "--ratio", "0.5", "--include", "1.weight", "--include", "4.weight", "--data", Data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        var changes = json.RootElement.GetProperty("structural_changes").EnumerateArray().ToList();
        Assert.Equal([6, 16], changes.Select(c => c.GetProperty("channels_before").GetInt32()));
        Assert.Equal([3, 8], changes.Select(c => c.GetProperty("channels_after").GetInt32()));
        var saved = Condense.Formats.ModelFile.Load(output);
        Assert.Equal([3, 1, 5, 5], saved.Graph.Initializers["1.weight"].Shape);
        Assert.Equal([8, 3, 5, 5], saved.Graph.Initializers["4.weight"].Shape);
        Assert.Equal([120, 200], saved.Graph.Initializers["8.weight"].Shape);
        Assert.Equal(61_706 - (75 + 3) - (16 * 150 + 16 - 8 * 75 - 8) - 120 * 200, json.RootElement.GetProperty("parameters").GetInt64());
        Assert.Contains(json.RootElement.GetProperty("skipped").EnumerateArray(), s => s.GetString()!.StartsWith("8.weight", StringComparison.Ordinal));
    }

    [Fact]
    public void SensitivityWritesOneRowPerTensor()
    {
        string output = Path.Combine(Dir, "sens.json");
        var r = CliRunner.Run("sensitivity", Model, "--sparsities", "0,0.5,0.9", "--samples", "100", "--data", Data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        Assert.Equal(100, printed.RootElement.GetProperty("samples").GetInt32());
        Assert.True(File.Exists(output));
        using var file = JsonDocument.Parse(File.ReadAllText(output));
        var rows = file.RootElement.EnumerateObject().Single(p => p.NameEquals("rows") || p.NameEquals("Rows")).Value.EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        float baseline = printed.RootElement.GetProperty("baseline_accuracy").GetSingle();
        foreach (var row in rows)
        {
            var accuracies = row.EnumerateObject().Single(p => p.Name.Equals("accuracies", StringComparison.OrdinalIgnoreCase)).Value
                .EnumerateArray().Select(a => a.GetSingle()).ToList();
            Assert.Equal(3, accuracies.Count);
            Assert.Equal(baseline, accuracies[0]);
        }
    }

    [Fact]
    public void PruneSpendsASensitivityBudget()
    {
        string report = Path.Combine(Dir, "sens.json");
        Assert.Equal(0, CliRunner.Run("sensitivity", Model, "--sparsities", "0,0.5,0.8,0.9,0.95", "--samples", "100", "--data", Data, "-o", report).ExitCode);
        string output = Path.Combine(Dir, "budget.safetensors");
        var r = CliRunner.Run("prune", Model, "--sensitivity", report, "--sparsity", "0.8", "--data", Data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        var weights = printed.RootElement.GetProperty("tensors").EnumerateArray().Where(t => t.GetProperty("shape").GetArrayLength() == 2).ToList();
        long total = weights.Sum(t => t.GetProperty("parameters").GetInt64());
        long nonzero = weights.Sum(t => t.GetProperty("nonzero_parameters").GetInt64());
        Assert.True(1.0 - (double)nonzero / total >= 0.8 - 1e-4, $"weight sparsity {1.0 - (double)nonzero / total}");

        string broken = Path.Combine(Dir, "broken.json");
        File.WriteAllText(broken, "{ not json");
        AssertOneLineError(CliRunner.Run("prune", Model, "--sensitivity", broken, "--data", Data, "-o", output), "broken.json");
        AssertOneLineError(CliRunner.Run("prune", Model, "--sensitivity", Path.Combine(Dir, "none.json"), "--data", Data, "-o", output), "does not exist");
    }

    [Fact]
    public void BadArgumentsAreOneLineErrors()
    {
        string output = Path.Combine(Dir, "never.safetensors");
        AssertOneLineError(CliRunner.Run("prune", Model, "--nm", "2-4", "--data", Data, "-o", output), "2:4");
        AssertOneLineError(CliRunner.Run("prune", Model, "--schedule", "agp", "--data", Data, "-o", output), "finetune-epochs");
        AssertOneLineError(CliRunner.Run("prune", Model, "--sparsity", "1.5", "--data", Data, "-o", output), "sparsity");
        Assert.False(File.Exists(output));

        var bytes = File.ReadAllBytes(Model);
        var written = File.GetLastWriteTimeUtc(Model);
        AssertOneLineError(CliRunner.Run("prune", Model, "--data", Data, "-o", Model), "overwrite");
        AssertOneLineError(CliRunner.Run("prune", Model, "--data", Data, "-o", Path.Combine(Dir, ".", "model.safetensors")), "overwrite");
        Assert.Equal(bytes, File.ReadAllBytes(Model));
        Assert.Equal(written, File.GetLastWriteTimeUtc(Model));
    }
}
