// The `prune` and `sensitivity` commands as a user runs them: JSON checked against the saved files,
// and bad input reported as one line on stderr with a non-zero exit code.
using System.Text.Json;
using Condense.Data;
using Condense.Graph;
using Condense.Tests.Cli;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Pruning;

public sealed class PruneCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-prune-cli-").FullName;
    private readonly string _data;
    private readonly string _model;

    public PruneCliTests()
    {
        _data = SmallData();
        _model = Path.Combine(_dir, "model.safetensors");
        ModelFile.Save(TrainedMlp.Fresh().Graph, _model);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string SmallData() => CliRunner.SmallData(_dir);

    private static void AssertOneLineError(CliRunner.Result r, string expectedFragment) => CliRunner.AssertOneLineError(r, expectedFragment);

    [Fact]
    public void GlobalPruneJsonMatchesTheSavedFile()
    {
        string output = Path.Combine(_dir, "pruned.safetensors");
        var r = CliRunner.Run("prune", _model, "--sparsity", "0.8", "--global", "--finetune-epochs", "1", "--data", _data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        var root = json.RootElement;
        foreach (var key in new[] { "accuracy", "accuracy_before", "accuracy_after_pruning", "parameters", "nonzero_parameters", "sparsity", "file_bytes", "output", "tensors" })
            Assert.True(root.TryGetProperty(key, out _), $"missing key {key}");
        Assert.Equal(output, root.GetProperty("output").GetString());
        var saved = ModelFile.Load(output);
        long parameters = saved.Parameters().Sum(p => (long)p.Size);
        long nonzero = saved.Parameters().Sum(p => p.Size - Zeros(p.Data));
        Assert.Equal(parameters, root.GetProperty("parameters").GetInt64());
        Assert.Equal(nonzero, root.GetProperty("nonzero_parameters").GetInt64());
        Assert.Equal(1.0 - (double)nonzero / parameters, root.GetProperty("sparsity").GetDouble(), 12);
        Assert.Equal(new FileInfo(output).Length, root.GetProperty("file_bytes").GetInt64());
        Assert.Equal(new FileInfo(_model).Length, root.GetProperty("file_bytes_before").GetInt64());
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
        string output = Path.Combine(_dir, "structured.safetensors");
        var r = CliRunner.Run("prune", _model, "--structured", "--ratio", "0.5", "--data", _data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        long after = json.RootElement.GetProperty("parameters").GetInt64();
        Assert.Equal(784 * 32 + 32 + 32 * 10 + 10, json.RootElement.GetProperty("parameters_before").GetInt64());
        Assert.Equal(784 * 16 + 16 + 16 * 10 + 10, after);
        Assert.Equal(after, ModelFile.Load(output).Parameters().Sum(p => (long)p.Size));
        Assert.True(new FileInfo(output).Length < new FileInfo(_model).Length);
    }

    [Fact]
    public void SensitivityWritesOneRowPerTensor()
    {
        string output = Path.Combine(_dir, "sens.json");
        var r = CliRunner.Run("sensitivity", _model, "--sparsities", "0,0.5,0.9", "--samples", "100", "--data", _data, "-o", output, "--json");
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
            var accuracies = row.EnumerateObject().Single(p => p.Name.Equals("accuracies", StringComparison.OrdinalIgnoreCase)).Value.EnumerateArray().Select(a => a.GetSingle()).ToList();
            Assert.Equal(3, accuracies.Count);
            Assert.Equal(baseline, accuracies[0]);
        }
    }

    [Fact]
    public void PruneSpendsASensitivityBudget()
    {
        string report = Path.Combine(_dir, "sens.json");
        Assert.Equal(0, CliRunner.Run("sensitivity", _model, "--sparsities", "0,0.5,0.8,0.9,0.95", "--samples", "100", "--data", _data, "-o", report).ExitCode);
        string output = Path.Combine(_dir, "budget.safetensors");
        var r = CliRunner.Run("prune", _model, "--sensitivity", report, "--sparsity", "0.8", "--data", _data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var printed = JsonDocument.Parse(r.Stdout);
        var weights = printed.RootElement.GetProperty("tensors").EnumerateArray().Where(t => t.GetProperty("shape").GetArrayLength() == 2).ToList();
        long total = weights.Sum(t => t.GetProperty("parameters").GetInt64());
        long nonzero = weights.Sum(t => t.GetProperty("nonzero_parameters").GetInt64());
        Assert.True(1.0 - (double)nonzero / total >= 0.8 - 1e-4, $"weight sparsity {1.0 - (double)nonzero / total}");

        string broken = Path.Combine(_dir, "broken.json");
        File.WriteAllText(broken, "{ not json");
        AssertOneLineError(CliRunner.Run("prune", _model, "--sensitivity", broken, "--data", _data, "-o", output), "broken.json");
        AssertOneLineError(CliRunner.Run("prune", _model, "--sensitivity", Path.Combine(_dir, "none.json"), "--data", _data, "-o", output), "does not exist");
    }

    [Fact]
    public void BadArgumentsAreOneLineErrors()
    {
        string output = Path.Combine(_dir, "never.safetensors");
        AssertOneLineError(CliRunner.Run("prune", _model, "--nm", "2-4", "--data", _data, "-o", output), "2:4");
        AssertOneLineError(CliRunner.Run("prune", _model, "--schedule", "agp", "--data", _data, "-o", output), "finetune-epochs");
        AssertOneLineError(CliRunner.Run("prune", _model, "--sparsity", "1.5", "--data", _data, "-o", output), "sparsity");
        Assert.False(File.Exists(output));

        var bytes = File.ReadAllBytes(_model);
        var written = File.GetLastWriteTimeUtc(_model);
        AssertOneLineError(CliRunner.Run("prune", _model, "--data", _data, "-o", _model), "overwrite");
        AssertOneLineError(CliRunner.Run("prune", _model, "--data", _data, "-o", Path.Combine(_dir, ".", "model.safetensors")), "overwrite");
        Assert.Equal(bytes, File.ReadAllBytes(_model));
        Assert.Equal(written, File.GetLastWriteTimeUtc(_model));
    }
}
