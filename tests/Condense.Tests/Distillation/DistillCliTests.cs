// The `distill` command as a user runs it: the JSON table of teacher, label-trained and distilled
// student checked against the saved files, the three ways to give a student, and bad input reported
// as one line on stderr with a non-zero exit code.
using System.Text.Json;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Tests.Cli;
using Condense.Tests.Pruning;

namespace Condense.Tests.Distillation;

public sealed class DistillCliTests() : CliWorkspace("condense-distill-cli-")
{
    private JsonElement RunJson(string output, params string[] student)
    {
        var r = CliRunner.Run(["distill", "--teacher", Model, .. student, "--epochs", "1", "--data", Data, "-o", output, "--json"]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var json = JsonDocument.Parse(r.Stdout);
        return json.RootElement.Clone();
    }

    private static long Parameters(string file) => Checkpoint.Load(file).Parameters().Sum(p => (long)p.Size);

    [Fact]
    public void SpecStudentJsonListsTheThreeModels()
    {
        string output = Path.Combine(Dir, "student.safetensors");
        var root = RunJson(output, "--student", "mlp:784-16-10");
        var models = root.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(["teacher", "student (labels)", "student (distilled)"], models.Select(m => m.GetProperty("name").GetString()));
        foreach (var m in models)
        {
            Assert.InRange(m.GetProperty("accuracy").GetDouble(), 0.0, 1.0);
            Assert.True(m.GetProperty("parameters").GetInt64() > 0);
            Assert.True(m.GetProperty("file_bytes").GetInt64() > 0);
        }
        Assert.Equal(784 * 32 + 32 + 32 * 10 + 10, models[0].GetProperty("parameters").GetInt64());
        Assert.Equal(784 * 16 + 16 + 16 * 10 + 10, models[1].GetProperty("parameters").GetInt64());
        Assert.Equal(784 * 16 + 16 + 16 * 10 + 10, models[2].GetProperty("parameters").GetInt64());
        Assert.Equal(new FileInfo(output).Length, models[2].GetProperty("file_bytes").GetInt64());
        Assert.Equal(new FileInfo(Model).Length, models[0].GetProperty("file_bytes").GetInt64());
        Assert.Equal(Parameters(output), root.GetProperty("parameters").GetInt64());
        Assert.Equal(4.0, root.GetProperty("temperature").GetDouble());
        Assert.Equal(0.9, root.GetProperty("alpha").GetDouble(), 6);
    }

    [Fact]
    public void HintDistillationRunsFromTheCommandLine()
    {
        string output = Path.Combine(Dir, "hinted.safetensors");
        var r = CliRunner.Run("distill", "--teacher", Model, "--student", "mlp:784-16-10", "--hint", "/2/Relu_output_0:/2/Relu_output_0",
            "--hint-weight", "0.5", "--epochs", "1", "--data", Data, "-o", output, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(output));
        CliRunner.AssertOneLineError(CliRunner.Run("distill", "--teacher", Model, "--student", "mlp:784-16-10", "--hint", "nocolon",
            "--data", Data, "-o", output), "--hint");
    }

    [Fact]
    public void WidthAndPrunedStudentsWork()
    {
        string width = Path.Combine(Dir, "width.safetensors");
        var root = RunJson(width, "--student-width", "0.5");
        Assert.Equal(784 * 16 + 16 + 16 * 10 + 10, root.GetProperty("parameters").GetInt64());
        Assert.Equal(root.GetProperty("parameters").GetInt64(), Parameters(width));

        string pruned = Path.Combine(Dir, "pruned.safetensors");
        root = RunJson(pruned, "--student-prune", "0.5");
        Assert.Equal(784 * 16 + 16 + 16 * 10 + 10, root.GetProperty("parameters").GetInt64());
        Assert.Equal(root.GetProperty("parameters").GetInt64(), Parameters(pruned));
    }

    [Fact]
    public void BadInputIsOneLine()
    {
        string output = Path.Combine(Dir, "x.safetensors");
        AssertOneLineError(CliRunner.Run("distill", "--student", "mlp:784-16-10", "--data", Data, "-o", output), "--teacher");
        AssertOneLineError(CliRunner.Run("distill", "--teacher", Model, "--student", "mlp:784-16-10", "--student-width", "0.5", "--data", Data, "-o", output),
            "--student cannot be combined with --student-width");
        AssertOneLineError(CliRunner.Run("distill", "--teacher", Model, "--student", "mlp:784-16-10", "--alpha", "1.5", "--data", Data, "-o", output), "alpha");
        AssertOneLineError(CliRunner.Run("distill", "--teacher", Model, "--student", "mlp:784-16-10", "--data", Data, "-o", Model), "overwrite the teacher");
        Assert.False(File.Exists(output));
    }
}
