// --data FILE.npy (with --labels FILE.npy) or FILE.csv on eval, quantize and prune: a model measured on arrays of its own input
// shape. Oracles: the accuracy of PyTorch's own logits (Fixtures/onnx/mlp128.expected.npy) on the labels, the same samples
// as CSV, ONNX Runtime on the written files; unlabelled arrays give fidelity to the original, and options that would be
// ignored are one-line errors.
using System.Globalization;
using System.Text.Json;
using Condense.Data;
using Condense.Tests.Onnx;

namespace Condense.Tests.Cli;

public sealed class ArrayDataCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-arrays").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static string Fixture(string name) => PyTorchFixtures.Path(name);

    // PyTorch's logits for the 16 inputs, scored against their labels.
    private static double PyTorchAccuracy()
    {
        var logits = Npy.Read(Fixture("mlp128.expected.npy")).ToFloat();
        var labels = Npy.Read(Fixture("labels16.npy")).ToFloat();
        int ArgMax(int row) => Array.IndexOf(logits[(row * 10)..(row * 10 + 10)], logits[(row * 10)..(row * 10 + 10)].Max());
        int correct = Enumerable.Range(0, 16).Count(i => ArgMax(i) == (int)labels[i]);
        return correct / 16.0;
    }

    [Fact]
    public void EvalOnAnArrayWithLabelsOrACsvGivesTheAccuracyOfTheModelsOutputs()
    {
        var r = CliRunner.Run("eval", Fixture("mlp128.onnx"), "--data", Fixture("mlp128.input.npy"), "--labels", Fixture("labels16.npy"), "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(PyTorchAccuracy(), JsonDocument.Parse(r.Stdout).RootElement.GetProperty("metrics").GetProperty("accuracy").GetDouble(), 6);
        Assert.Contains("16 samples of shape [784]", r.Stderr);

        // The same samples as CSV, the label first.
        var x = Npy.Read(Fixture("mlp128.input.npy")).ToFloat();
        var labels = Npy.Read(Fixture("labels16.npy")).ToFloat();
        string csv = Path.Combine(_dir, "samples.csv");
        string Line(int i) => string.Join(',', new[] { ((int)labels[i]).ToString(CultureInfo.InvariantCulture) }
            .Concat(x[(i * 784)..(i * 784 + 784)].Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        File.WriteAllLines(csv, Enumerable.Range(0, 16).Select(Line));
        var c = CliRunner.Run("eval", Fixture("mlp128.onnx"), "--data", csv, "--json");
        Assert.True(c.ExitCode == 0, c.Stderr);
        Assert.Equal(PyTorchAccuracy(), JsonDocument.Parse(c.Stdout).RootElement.GetProperty("metrics").GetProperty("accuracy").GetDouble(), 6);
    }

    [Fact]
    public void QuantizeAndPruneMeasureFidelityOnUnlabelledArrays()
    {
        string quantized = Path.Combine(_dir, "q.onnx");
        var q = CliRunner.Run("quantize", Fixture("mlp128.onnx"), "--data", Fixture("mlp128.input.npy"), "-o", quantized, "--json");
        Assert.True(q.ExitCode == 0, q.Stderr);
        var after = JsonDocument.Parse(q.Stdout).RootElement.GetProperty("after");
        Assert.InRange(after.GetProperty("fidelity").GetProperty("cosine_mean").GetDouble(), 0.99, 1.0);
        Assert.Equal(8, after.GetProperty("images").GetInt32());   // calibrated on the first half, measured on the other

        var e = CliRunner.Run("eval", quantized, "--data", Fixture("mlp128.input.npy"), "--reference", Fixture("mlp128.onnx"), "--json");
        Assert.True(e.ExitCode == 0, e.Stderr);
        Assert.InRange(JsonDocument.Parse(e.Stdout).RootElement.GetProperty("metrics").GetProperty("fidelity").GetProperty("cosine_mean").GetDouble(),
            0.99, 1.0);

        string pruned = Path.Combine(_dir, "p.onnx");
        var p = CliRunner.Run("prune", Fixture("mlp128.onnx"), "--data", Fixture("mlp128.input.npy"), "--structured", "--ratio", "0.25",
            "--calibration", Fixture("mlp128.input.npy"), "-o", pruned, "--json");
        Assert.True(p.ExitCode == 0, p.Stderr);
        var json = JsonDocument.Parse(p.Stdout).RootElement;
        Assert.True(json.GetProperty("after").GetProperty("parameters").GetInt64() < json.GetProperty("before").GetProperty("parameters").GetInt64());
        Assert.Contains("samples", p.Stderr);
    }

    [Fact]
    public void WhatAnArrayRunCannotUseIsAOneLineError()
    {
        string model = Fixture("mlp128.onnx"), x = Fixture("mlp128.input.npy");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--data", x), "--labels");
        string csv = Path.Combine(_dir, "one.csv");
        File.WriteAllText(csv, "3," + string.Join(',', Enumerable.Repeat("0", 784)) + "\n");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--data", csv, "--labels", Fixture("labels16.npy")), "a CSV file carries its labels");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--data", x, "--labels", Fixture("mlp128.expected.npy")), "labels must be");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--reference", model), "--reference");
        CliRunner.AssertOneLineError(CliRunner.Run("eval", model, "--data", _dir, "--labels", Fixture("labels16.npy")), "--labels only applies");
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--data", _dir, "--labels", Fixture("labels16.npy"), "-o", Path.Combine(_dir, "t.onnx")),
            "--labels only applies");
        CliRunner.AssertOneLineError(CliRunner.Run("prune", model, "--structured", "--ratio", "0.5", "--calibration", x, "-o", Path.Combine(_dir, "p.onnx")),
            "--calibration");
        Assert.False(File.Exists(Path.Combine(_dir, "p.onnx")));
    }
}
