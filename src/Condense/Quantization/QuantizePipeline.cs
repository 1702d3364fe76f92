// A whole post-training quantization run, as the CLI's `quantize` command does it: measure the float
// model, quantize (calibrating on the training data in static mode), measure the quantized model,
// save it and report per-layer scales, accuracy, size and the compression ratio.
using System.Diagnostics;
using Condense.Data;
using Condense.Graph;
using Condense.Training;

namespace Condense.Quantization;

/// <summary>The outcome of a quantization run.</summary>
public sealed record QuantizeReport(
    QuantizationMode Mode, int WeightBits, bool PerChannel, string Calibration,
    IReadOnlyList<QuantizedLayer> Layers, IReadOnlyList<string> FloatLayers,
    float AccuracyBefore, float AccuracyAfter, long FileBytesBefore, long FileBytesAfter, double Seconds)
{
    /// <summary>How many times smaller the file became.</summary>
    public double CompressionRatio => FileBytesAfter == 0 ? 0 : (double)FileBytesBefore / FileBytesAfter;
}

/// <summary>Runs post-training quantization end to end.</summary>
public static class QuantizePipeline
{
    /// <summary>
    /// Quantizes <paramref name="model"/> (calibrating on <paramref name="calibration"/>), evaluates on
    /// <paramref name="test"/>, saves to <paramref name="output"/> if given, and reports.
    /// </summary>
    public static (GraphModule Model, QuantizeReport Report) Run(GraphModule model, Dataset calibration, Dataset test,
        QuantizeOptions options, string? output = null, long fileBytesBefore = 0)
    {
        var watch = Stopwatch.StartNew();
        float before = Evaluator.Evaluate(model, test).Accuracy;
        var (quantized, layers) = Quantizer.Quantize(model, calibration, options);
        float after = Evaluator.Evaluate(quantized, test).Accuracy;
        long bytes = 0;
        if (output is not null)
        {
            ModelFile.Save(quantized.Graph, output);
            bytes = new FileInfo(output).Length;
        }
        var quantizedWeights = layers.Select(l => l.Weight).ToHashSet();
        var floatLayers = model.Graph.Nodes.Where(n => n.OpType is "Gemm" or "MatMul" && !quantizedWeights.Contains(n.Inputs[1]))
            .Select(n => n.Inputs[1]).ToList();
        string calibrationName = options.Mode == QuantizationMode.Static ? options.Calibration.ToString() : "none";
        return (quantized, new QuantizeReport(options.Mode, options.WeightBits, options.PerChannel, calibrationName, layers, floatLayers,
            before, after, fileBytesBefore, bytes, watch.Elapsed.TotalSeconds));
    }
}
