// `condense quantize MODEL --text FILE`: a text encoder quantized and measured by fidelity to the float model on the
// held-out half of the passages (the first half calibrates, or --calibration FILE does), with the file sizes.
using Condense.Data.Text;
using Condense.Formats;
using Condense.Inference;
using Condense.Onnx;
using Condense.Quantization;
using Spectre.Console;

namespace Condense.Cli.Commands;

internal static class QuantizeText
{
    public static int Run(Output output, QuantizeCommand.Settings settings, QuantizeOptions options, string outPath)
    {
        TextOptions.CheckLengths(settings.MaxLength, 32);
        var model = ModelFile.Load(settings.Model);
        var tokenizer = TextOptions.Tokenizer(settings.Model, settings.Vocab, model.Graph).FitTo(model, settings.Model, settings.MaxLength, output);
        var passages = TextPassages.Read(settings.Text!);
        IReadOnlyList<string> calibration, evaluation;
        (calibration, evaluation) = settings.Calibration is { } file ? (TextPassages.Read(file), passages) : TextPassages.Halves(passages, settings.Text!);
        calibration = calibration.Take(settings.Samples).ToList();
        var embedding = new EmbeddingOptions(settings.MaxLength, Pooling: TextOptions.Pooling(settings.Model, model, output));
        var (quantized, report) = CountProgress.Run(output, "measuring fidelity", evaluation.Count,
            progress => TextQuantizePipeline.Apply(model, tokenizer, calibration, evaluation, options, embedding, progress));
        var format = settings.OnnxFormat ?? QuantizedOnnxFormat.Qdq;
        // The vocabulary travels inside the saved model, so the quantized file tokenizes its text wherever it goes.
        TextOptions.CarryInto(quantized.Graph, tokenizer, embedding.Pooling);
        ModelFile.Save(quantized.Graph, outPath, format);
        report = report with
        {
            FileBytesBefore = Condense.Reports.ModelMetrics.SizeOnDisk(settings.Model),
            FileBytesAfter = Condense.Reports.ModelMetrics.SizeOnDisk(outPath),
        };

        var granularity = report.BlockSize is int block ? $"blocks of {block}" : report.PerChannel ? "per channel" : "per tensor";
        var layers = new Table().Title($"[bold]{report.Mode.ToString().ToLowerInvariant()} int{report.WeightBits}, {granularity}[/]")
            .AddColumns("layer", "weight", "bits", "weight scales");
        foreach (var l in report.Layers) layers.AddRow(Markup.Escape(l.Node), Markup.Escape(l.Weight), $"{l.Bits}", $"{l.MinScale:G3} … {l.MaxScale:G3}");
        foreach (var f in report.FloatLayers) layers.AddRow("", Markup.Escape(f), "float", "");
        output.Console.Write(layers);
        var summary = new Table().AddColumns("", "float", "quantized");
        Tables.LanguageModelRows(summary, report.LanguageModel, null);
        summary.AddRow("cosine to float (mean / min)", "1", $"{report.CosineMean:F4} / {report.CosineMin:F4}");
        summary.AddRow("top-10 neighbour overlap", "100 %", $"{report.TopKOverlap:P1}");
        summary.AddRow("Spearman (pairwise similarities)", "1", $"{report.Spearman:F4}");
        summary.AddRow("file size", Output.FormatBytes(report.FileBytesBefore),
            $"{Output.FormatBytes(report.FileBytesAfter)} ({report.CompressionRatio:F1}× smaller)");
        summary.AddRow("latency (batch 1)", $"{report.LatencyMsBefore:F1} ms", $"{report.LatencyMsAfter:F1} ms");
        output.Console.Write(summary);
        if (report.TargetMet is bool met)
            output.Console.MarkupLine(met
                ? $"[green]target met[/]: cosine {report.CosineMean:F4} ≥ {settings.MinCosine} ({report.FloatLayers.Count} layers kept in float)"
                : $"[yellow]target not met[/]: best cosine {report.CosineMean:F4} < {settings.MinCosine}; saved the most faithful model found");
        output.Console.MarkupLine($"calibrated on {report.CalibrationPassages} passages, measured on {report.EvaluationPassages}; "
            + $"saved [bold]{Markup.Escape(outPath)}[/] in {report.Seconds:F1}s");
        output.Result(outPath, null, report, ("onnx_format", format.ToString().ToLowerInvariant(), Before: "calibration_passages"));
        return 0;
    }
}
