using System.Diagnostics;
using System.Text.Json.Nodes;
using Condense.Formats;
using Condense.Tests.Cli;
using Condense.Tests.Data;
using Google.Protobuf;

namespace Condense.Tests.Distributed;

/// <summary>
/// `mpirun -np 2 condense …` against one process of the same command (the oracle): training and distillation give the
/// same model up to floating-point reassociation of the gradient sums; calibration, evaluation and sensitivity give the
/// same numbers exactly; a failing, killed or hung rank ends the run without an output file and without hanging.
/// </summary>
[Collection("mpirun")]
public sealed class MpiRunTests() : CliWorkspace("condense-mpi-")
{
    private string At(string name) => Path.Combine(Dir, name);

    private static void AssertSameWeights(string expected, string actual, double tolerance)
    {
        var a = ModelFile.Load(expected).Graph.Initializers;
        var b = ModelFile.Load(actual).Graph.Initializers;
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, x) in a)
        {
            var y = b[name];
            Assert.Equal(x.Shape, y.Shape);
            float scale = x.Data.Max(MathF.Abs);
            float worst = x.Data.Zip(y.Data, (p, q) => MathF.Abs(p - q)).Max();
            Assert.True(worst <= tolerance * Math.Max(scale, 1e-6f), $"{name}: max |difference| {worst} against max |w| {scale}");
        }
    }

    private MpiRun.Result Ranks(int ranks, params string[] args)
    {
        var result = MpiRun.Run(MpiRun.Ranks(ranks, args));
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}\n{result.Stderr}\n{result.Stdout}");
        return result;
    }

    [Fact]
    public void TrainingOnTwoRanksGivesTheModelOfOneProcess()
    {
        string[] train = ["train", "--model", "mlp:784-24-10", "--epochs", "2", "--data", Data, "--seed", "3"];
        var one = CliRunner.Run([.. train, "-o", At("one.safetensors")]);
        Assert.True(one.ExitCode == 0, one.Stderr);
        var two = Ranks(2, [.. train, "-o", At("two.safetensors")]);
        AssertSameWeights(At("one.safetensors"), At("two.safetensors"), 1e-5);
        Assert.Contains("two.safetensors", two.Stdout);
        Assert.Equal("", two.Stderr.Trim());
    }

    [Fact]
    public void DistillationOnTwoRanksGivesTheStudentOfOneProcess()
    {
        string[] distill = ["distill", "--teacher", Model, "--student", "mlp:784-16-10", "--epochs", "2", "--data", Data, "--json"];
        var one = CliRunner.Run([.. distill, "-o", At("one.safetensors")]);
        Assert.True(one.ExitCode == 0, one.Stderr);
        var two = Ranks(2, [.. distill, "-o", At("two.safetensors")]);
        AssertSameWeights(At("one.safetensors"), At("two.safetensors"), 1e-5);
        // One JSON object on stdout, from rank 0 alone, with no terminal codes from mpirun's pseudo-terminal.
        var json = JsonNode.Parse(two.Stdout)!;
        Assert.Equal(JsonNode.Parse(one.Stdout)!["models"]![0]!["accuracy"]!.GetValue<double>(), json["models"]![0]!["accuracy"]!.GetValue<double>());
        Assert.DoesNotContain('\u001b', two.Stdout + two.Stderr);
    }

    [Fact]
    public void ImageDistillationOnTwoRanksGivesTheStudentOfOneProcess()
    {
        string images = Path.Combine(TestFiles.RepoRoot(), "data", "images", "calibration");
        // A model of the command line takes images ([N, 1, 28, 28], flattened inside).
        Assert.Equal(0, CliRunner.Run("train", "--model", "mlp:784-32-10", "--epochs", "1", "--data", Data, "-o", At("teacher.safetensors")).ExitCode);
        string[] distill = ["distill", "--teacher", At("teacher.safetensors"), "--images", images, "--student-prune", "0.5", "-e", "2", "--lr", "1e-3"];
        var one = CliRunner.Run([.. distill, "-o", At("one.safetensors")]);
        Assert.True(one.ExitCode == 0, one.Stderr);
        Ranks(2, [.. distill, "-o", At("two.safetensors")]);
        AssertSameWeights(At("one.safetensors"), At("two.safetensors"), 1e-5);
    }

    [Fact]
    public void TextDistillationOnTwoRanksGivesTheStudentOfOneProcess()
    {
        File.WriteAllBytes(At("bert.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(Transformers.TinyTransformer.Bert(17, layers: 2)));
        File.WriteAllText(At("vocab.txt"), Condense.Tests.Distillation.TextDistillationTests.Vocabulary());
        File.WriteAllLines(At("corpus.txt"), Condense.Tests.Distillation.TextDistillationTests.Passages(60, 1));
        string[] distill = ["distill", "--teacher", At("bert.onnx"), "--text", At("corpus.txt"), "--student-layers", "1", "--epochs", "2",
            "--batch-size", "8", "--lr", "3e-3", "--max-length", "16"];
        var one = CliRunner.Run([.. distill, "-o", At("one.onnx")]);
        Assert.True(one.ExitCode == 0, one.Stderr);
        Ranks(2, [.. distill, "-o", At("two.onnx")]);
        // The students compute the same embeddings. Their weights agree to 1e-7 but for the attention key biases, whose
        // gradient is zero by symmetry (softmax ignores a shift shared by all keys): AdamW scales the rounding noise of
        // that zero to full-size steps, so they wander differently (2e-3 measured) without changing any output.
        var passages = Condense.Tests.Distillation.TextDistillationTests.Passages(60, 1);
        var tokenizer = Condense.Tests.Distillation.TextDistillationTests.Tokenizer();
        float[][] Embed(string file) => new Condense.Inference.SentenceEmbedder(ModelFile.Load(At(file)), tokenizer,
            new Condense.Inference.EmbeddingOptions(MaxLength: 16, Normalize: false)).Embed(passages);
        var (a, b) = (Embed("one.onnx"), Embed("two.onnx"));
        float scale = a.Max(row => row.Max(MathF.Abs));
        float worst = a.Zip(b, (x, y) => x.Zip(y, (p, q) => MathF.Abs(p - q)).Max()).Max();
        Assert.True(worst <= 1e-5f * scale, $"embeddings differ by {worst} against {scale}");
    }

    [Fact]
    public void CalibrationSearchEvaluationAndSensitivityOnTwoRanksEqualOneProcess()
    {
        Assert.Equal(0, CliRunner.Run("quantize", Model, "--mode", "static", "--data", Data, "-o", At("one.int8.safetensors")).ExitCode);
        Ranks(2, "quantize", Model, "--mode", "static", "--data", Data, "-o", At("two.int8.safetensors"));
        Assert.Equal(File.ReadAllBytes(At("one.int8.safetensors")), File.ReadAllBytes(At("two.int8.safetensors")));

        // The accuracy-aware search measures each layer on one rank and the greedy steps on all of them.
        Assert.Equal(0, CliRunner.Run("quantize", Model, "--max-accuracy-drop", "0", "--data", Data, "-o", At("one.aware.safetensors")).ExitCode);
        Ranks(2, "quantize", Model, "--max-accuracy-drop", "0", "--data", Data, "-o", At("two.aware.safetensors"));
        Assert.Equal(File.ReadAllBytes(At("one.aware.safetensors")), File.ReadAllBytes(At("two.aware.safetensors")));

        var evalOne = JsonNode.Parse(CliRunner.Run("eval", Model, "--data", Data, "--json").Stdout)!;
        var evalTwo = JsonNode.Parse(Ranks(2, "eval", Model, "--data", Data, "--json").Stdout)!;
        foreach (var key in new[] { "accuracy", "loss" })
            Assert.Equal(evalOne[key]!.GetValue<double>(), evalTwo[key]!.GetValue<double>());

        Assert.Equal(0, CliRunner.Run("sensitivity", Model, "--data", Data, "-o", At("one.json")).ExitCode);
        Ranks(2, "sensitivity", Model, "--data", Data, "-o", At("two.json"));
        Assert.Equal(File.ReadAllText(At("one.json")), File.ReadAllText(At("two.json")));
    }

    [Fact]
    public void ASensitivityAllocationOnTwoRanksEqualsOneProcess()
    {
        // Each (tensor, sparsity) is measured whole by one rank: the curves, so the allocation and the pruned file, are equal.
        File.WriteAllBytes(At("bert.onnx"), Transformers.TinyTransformer.Bert(17, layers: 2).ToByteArray());
        File.WriteAllText(At("vocab.txt"), Distillation.TextDistillationTests.Vocabulary());
        File.WriteAllLines(At("corpus.txt"), Distillation.TextDistillationTests.Passages(40, 1));
        string[] prune = ["prune", At("bert.onnx"), "--text", At("corpus.txt"), "--allocation", "sensitivity", "--sensitivity-samples", "4",
            "--max-length", "16"];
        var one = CliRunner.Run([.. prune, "-o", At("one.safetensors")]);
        Assert.True(one.ExitCode == 0, one.Stderr);
        Ranks(2, [.. prune, "-o", At("two.safetensors")]);
        Assert.Equal(File.ReadAllBytes(At("one.safetensors")), File.ReadAllBytes(At("two.safetensors")));
    }

    [Fact]
    public void OnlyRankZeroWritesAndNoOtherRankReadsItsOutputsBack()
    {
        // Rank 1 is told to write into a folder of its own, as on a machine without shared storage: it must stay empty,
        // and nothing rank 1 does may need the files there (sizes, diagnosis, reports).
        string mine = Directory.CreateDirectory(At("rank0")).FullName, other = Directory.CreateDirectory(At("rank1")).FullName;
        foreach (var (command, file) in new[]
        {
            (new[] { "quantize", Model, "--mode", "static", "--data", Data, "--diagnose" }, "q.safetensors"),
            (["prune", Model, "--sparsity", "0.5", "--finetune-epochs", "1", "--data", Data, "--report", At("report")], "p.safetensors"),
            (["distill", "--teacher", Model, "--student", "mlp:784-16-10", "--epochs", "1", "--data", Data], "d.safetensors"),
        })
        {
            var result = MpiRun.Run([.. MpiRun.Ranks(1, [.. command, "-o", Path.Combine(mine, file)]), ":",
                .. MpiRun.Ranks(1, [.. command, "-o", Path.Combine(other, file)])]);
            Assert.True(result.ExitCode == 0, $"{command[0]}: exit {result.ExitCode}\n{result.Stderr}");
            Assert.True(File.Exists(Path.Combine(mine, file)), command[0]);
            Assert.Empty(Directory.EnumerateFileSystemEntries(other));
        }
        Assert.True(File.Exists(Path.Combine(At("report"), "report.html")));
    }

    [Fact]
    public void ARankWithAnotherTeacherEndsTheRunWithOneLineOnRankZero()
    {
        var other = ModelFile.Load(Model).Graph;
        other.Initializers.First().Value.Data[0] += 0.5f;
        Checkpoint.Save(other, At("other.safetensors"));
        string output = At("student.safetensors");
        string[] tail = ["--student", "mlp:784-16-10", "--epochs", "1", "--data", Data, "-o", output];
        var result = MpiRun.Run([.. MpiRun.Ranks(1, ["distill", "--teacher", Model, .. tail]), ":",
            .. MpiRun.Ranks(1, ["distill", "--teacher", At("other.safetensors"), .. tail])], KilledRanksTemp());
        Assert.NotEqual(0, result.ExitCode);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, result.Stderr);
        Assert.StartsWith("error: rank 1 failed: its teacher differs from rank 0's", lines[0]);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(Dir, ".*.tmp"));
        // The ranks ended by MPI_Abort removed their scratch folders (checkpoints written to measure sizes) first.
        Assert.Empty(Directory.GetFileSystemEntries(At("tmp"), "condense-*"));
    }

    // The runs below are given far more epochs than they get before the test stops a rank (500 finished in 3.7 s on a Zen 5
    // core, before the kill: the output was then rightly written).
    [Fact]
    public void AKilledRankEndsTheRunWithoutAnOutputFile()
    {
        string output = At("killed.safetensors");
        using var process = MpiRun.Start(MpiRun.Ranks(2, "distill", "--teacher", Model, "--student", "mlp:784-16-10", "--epochs", "100000",
            "--data", Data, "-o", output), KilledRanksTemp());
        int? victim = WaitForRank(1, output, process);
        Process.GetProcessById(victim!.Value).Kill();
        var result = MpiRun.Wait(process, 60_000);
        Assert.NotEqual(0, result.ExitCode);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void AHungRankEndsTheRunAfterTheCollectiveTimeout()
    {
        string output = At("hung.safetensors");
        using var process = MpiRun.Start(MpiRun.Ranks(2, "distill", "--teacher", Model, "--student", "mlp:784-16-10", "--epochs", "100000",
            "--data", Data, "-o", output), new Dictionary<string, string>(KilledRanksTemp()) { ["CONDENSE_MPI_TIMEOUT"] = "3" });
        int victim = WaitForRank(1, output, process)!.Value;
        using (var stop = Process.Start("kill", ["-STOP", victim.ToString(System.Globalization.CultureInfo.InvariantCulture)])) stop.WaitForExit();
        try
        {
            var result = MpiRun.Wait(process, 90_000);
            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("waited 3 s for the other ranks", result.Stderr);
            Assert.False(File.Exists(output));
        }
        finally
        {
            try { Process.GetProcessById(victim).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
        }
    }

    // A rank killed by the test, or ended by MPI_Abort, cannot remove its scratch folder, so the ranks' temporary folder is
    // inside the workspace, which the test removes, not the machine's /tmp.
    private Dictionary<string, string> KilledRanksTemp() => new() { ["TMPDIR"] = Directory.CreateDirectory(At("tmp")).FullName };

    // Waits until rank `rank` of the run writing `marker` is up and training (a few seconds in).
    private static int? WaitForRank(int rank, string marker, Process mpirun)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Assert.False(mpirun.HasExited, "mpirun ended before the test could reach its ranks");
            if (MpiRun.FindRank(rank, marker) is { } pid && clock.Elapsed > TimeSpan.FromSeconds(4)) return pid;
            Thread.Sleep(200);
        }
        throw new TimeoutException($"rank {rank} did not start");
    }
}
