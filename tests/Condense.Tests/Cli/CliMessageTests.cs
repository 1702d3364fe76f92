// Messages that say what happened, through the real executable: a folder or a path ending in '/' given as a
// model, the inputs of a several-input ONNX model (also one whose first dimensions are fixed), the weight-only
// quantization table; and every command line the README shows still passes the strict command-line check.
using System.Text.Json;
using System.Text.RegularExpressions;
using Condense.Tests.Data;
using Condense.Tests.Onnx;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Condense.Tests.Cli;

public sealed partial class CliMessageTests() : CliWorkspace("condense-messages-cli-")
{
    [Fact]
    public void AFolderOrATrailingSlashIsNotAModelFile()
    {
        string folder = Directory.CreateDirectory(Path.Combine(Dir, "models")).FullName;
        CliRunner.AssertOneLineError(CliRunner.Run("eval", folder), $"{folder} is a folder, not a model file");
        // A folder named like a model is still a folder.
        string named = Directory.CreateDirectory(Path.Combine(Dir, "dir.onnx")).FullName;
        CliRunner.AssertOneLineError(CliRunner.Run("info", named), "is a folder, not a model file");
        string onnx = Path.Combine(Dir, "x.onnx");
        File.WriteAllText(onnx, "x");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", onnx + "/"), "x.onnx/ is not a file");
        CliRunner.AssertOneLineError(CliRunner.Run("prune", Model + "/", "--data", Data), "model.safetensors/ is not a file");
    }

    [Fact]
    public void InfoListsTheInputsOfASeveralInputModel()
    {
        // y = a + float(b): a is float (batch, 3), b is int64 (?, 3).
        var a = new ValueInfoProto { Name = "a", Type = TensorType(1, ("batch", 0), (null, 3)) };
        var b = new ValueInfoProto { Name = "b", Type = TensorType(7, (null, 0), (null, 3)) };
        var model = OnnxTestModels.Model(
            [OnnxTestModels.Node("Cast", ["b"], "bf", OnnxTestModels.Int("to", 1)), OnnxTestModels.Node("Add", ["a", "bf"], "y")],
            a, OnnxTestModels.Value("y", -1, 3));
        model.Graph.Input.Add(b);
        string path = Path.Combine(Dir, "two-inputs.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        // ONNX Runtime accepts the file and sees the same two inputs.
        using (var session = new InferenceSession(path))
            Assert.Equal(["a", "b"], session.InputMetadata.Keys.Order());

        var r = CliRunner.Run("info", path);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"│ a\s+│ float\s+│ \[batch, 3\]\s+│", r.Stdout);
        Assert.Matches(@"│ b\s+│ int64\s+│ \[\?, 3\]\s+│", r.Stdout);
        Assert.Contains("inputs a, b → output y", r.Stdout);
        var json = CliRunner.Run("info", path, "--json");
        Assert.True(json.ExitCode == 0, json.Stderr);
        using var doc = JsonDocument.Parse(json.Stdout);
        var inputs = doc.RootElement.GetProperty("inputs").EnumerateArray().ToList();
        Assert.Equal(["a", "b"], inputs.Select(i => i.GetProperty("name").GetString()));
        Assert.Equal(["float", "int64"], inputs.Select(i => i.GetProperty("type").GetString()));
        // The commands that feed one input say so in one line, naming the inputs.
        CliRunner.AssertOneLineError(CliRunner.Run("eval", path, "--data", Data), "the model has 2 inputs (a, b) but was fed one tensor");
    }

    [Fact]
    public void InfoReadsATwoInputModelWhoseFirstDimensionsAreFixed()
    {
        // y = a × b with a [2, 3] and b [3, 4]: the load-time check feeds each input as declared, not a batch of 1.
        var model = OnnxTestModels.Model([OnnxTestModels.Node("MatMul", ["a", "b"], "y")],
            OnnxTestModels.Value("a", 2, 3), OnnxTestModels.Value("y", 2, 4));
        model.Graph.Input.Add(OnnxTestModels.Value("b", 3, 4));
        string path = Path.Combine(Dir, "matmul.onnx");
        File.WriteAllBytes(path, model.ToByteArray());

        var r = CliRunner.Run("info", path);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"│ b\s+│ float\s+│ \[3, 4\]\s+│", r.Stdout);
        Assert.Contains("inputs a, b → output y [2, 4]", r.Stdout);
    }

    private static TypeProto TensorType(int elementType, params (string? Name, long Size)[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var (name, size) in dims)
            shape.Dim.Add(name is not null ? new TensorShapeProto.Types.Dimension { DimParam = name }
                : size > 0 ? new TensorShapeProto.Types.Dimension { DimValue = size } : new TensorShapeProto.Types.Dimension());
        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } };
    }

    [Fact]
    public void WeightOnlyTablesShowNoInputScale()
    {
        var weightOnly = CliRunner.Run("quantize", Model, "--mode", "weightonly", "--data", Data, "-o", Path.Combine(Dir, "w.safetensors"));
        Assert.True(weightOnly.ExitCode == 0, weightOnly.Stderr);
        Assert.Contains("weight scales", weightOnly.Stdout);
        Assert.DoesNotContain("input scale", weightOnly.Stdout);
        Assert.DoesNotContain("per batch", weightOnly.Stdout);
        // Static mode calibrates its inputs and shows their scales.
        var statik = CliRunner.Run("quantize", Model, "--calibration-samples", "100", "--data", Data, "-o", Path.Combine(Dir, "s.safetensors"));
        Assert.True(statik.ExitCode == 0, statik.Stderr);
        Assert.Contains("input scale", statik.Stdout);
    }

    [Fact]
    public void EveryReadmeCommandLinePassesTheStrictCheck()
    {
        // Run in an empty folder with no data, each command stops at its first missing file, after the
        // command line was accepted: "does not exist", never an option error.
        string empty = Directory.CreateDirectory(Path.Combine(Dir, "empty")).FullName;
        var lines = ReadmeCommandLines(File.ReadAllText(Path.Combine(TestFiles.RepoRoot(), "README.md")));
        Assert.True(lines.Count >= 25, $"found only {lines.Count} command lines in the README");
        foreach (var line in lines)
        {
            var args = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
            // info, run, embed and compose read no dataset, and a text or image command reads --text or --images instead: they take no --data.
            bool readsData = args[0] is not ("info" or "run" or "embed" or "compose");
            if (readsData && !args.Contains("--data") && !args.Contains("--text") && !args.Contains("--images")) args.AddRange(["--data", "no-data"]);
            var r = CliRunner.RunIn(empty, [.. args]);
            // The README shows one refusal on purpose: an output onto the input model.
            bool expected = r.Stderr.Contains("does not exist")
                || line.Contains("-o lenet300.safetensors") && r.Stderr.Contains("would overwrite the input model");
            Assert.True(r.ExitCode == 1 && expected, $"condense {line}\n{r.Stderr}");
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(empty));
    }

    // "condense …" lines of the README's code blocks, comments dropped, [optional] parts kept with their placeholders filled.
    private static List<string> ReadmeCommandLines(string readme)
    {
        var lines = new List<string>();
        bool inCode = false;
        foreach (var raw in readme.Split('\n'))
        {
            string text = raw.Trim();
            if (text.StartsWith("```", StringComparison.Ordinal)) { inCode = !inCode; continue; }
            if (text.StartsWith("$ ", StringComparison.Ordinal)) text = text[2..];
            if (!inCode || !text.StartsWith("condense ", StringComparison.Ordinal)) continue;
            text = text["condense ".Length..].Split('#')[0].Replace("[", "").Replace("]", "").Replace("|", " ");
            lines.Add(Placeholder().Replace(text, m => m.Value == "DIR" ? "no-data" : "1").Trim());
        }
        return lines;
    }

    [GeneratedRegex(@"\b(DIR|S)\b")]
    private static partial Regex Placeholder();
}
