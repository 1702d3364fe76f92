// `condense quantize MODEL --images DIR`: an image model quantized (calibrated on --calibration DIR, or on the first half
// of the images) and measured on the images — accuracy when they are labelled, fidelity to the float model always — with
// the file sizes and speed before and after.
using Condense.Data;
using Condense.Formats;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Reports;
using Spectre.Console;

namespace Condense.Cli.Commands;

internal static class QuantizeImages
{
    public static int Run(Output output, QuantizeCommand.Settings settings, QuantizeOptions options, string outPath)
    {
        var model = ModelFile.Load(settings.Model);
        var images = ImageInputs.Load(output, settings, ImageInputs.Source(settings), model, "evaluation");
        Dataset calibration, evaluation;
        if (settings.Calibration is { } folder) (calibration, evaluation) = (ImageInputs.Load(output, settings, folder, model, "calibration"), images);
        else
        {
            if (images.Count < 4) throw new CondenseException($"{images.Count} images in {settings.Images}: at least 4 are needed to calibrate "
                + "on half and measure on the other half (or give --calibration DIR)");
            var order = Enumerable.Range(0, images.Count).ToArray();
            (calibration, evaluation) = (images.Select(order[..(images.Count / 2)]), images.Select(order[(images.Count / 2)..]));
        }
        (model, int batch) = ImageInputs.Batchable(output, model);
        var (quantized, report) = CountProgress.Run(output, "measuring", evaluation.Count,
            progress => ImageQuantizePipeline.Apply(model, calibration, evaluation, options, batch, progress));
        var format = settings.OnnxFormat ?? QuantizedOnnxFormat.Qdq;
        ModelFile.Save(quantized.Graph, outPath, format);
        report = report with
        {
            Before = report.Before with { FileBytes = ModelMetrics.SizeOnDisk(settings.Model) },
            After = report.After with { FileBytes = ModelMetrics.SizeOnDisk(outPath) },
        };
        var granularity = options.PerChannel ? "per channel" : "per tensor";
        var layers = new Table().Title($"[bold]{report.Mode.ToString().ToLowerInvariant()} int{report.Bits}, {granularity}[/]")
            .AddColumns("layer", "weight", "weight scales", "input scale");
        foreach (var l in report.Layers)
            layers.AddRow(Markup.Escape(l.Node), Markup.Escape(l.Weight), $"{l.MinScale:G3} … {l.MaxScale:G3}", l.InputScale is { } s ? $"{s:G4}" : "–");
        foreach (var f in report.FloatLayers) layers.AddRow("", Markup.Escape(f), "float", "");
        output.Console.Write(layers);
        string unit = ImageInputs.Unit(settings);
        Tables.ImageComparison(output, unit, ("float", report.Before), ($"int{report.Bits}", report.After));
        string calibrated = report.CalibrationImages > 0 ? $"calibrated on {report.CalibrationImages} {unit}, " : "";
        output.Console.MarkupLine($"{calibrated}measured on {report.After.Images}; saved [bold]{Markup.Escape(outPath)}[/] in {report.Seconds:F1}s");
        var warnings = ImageInputs.Warnings(output, evaluation, report.Before, report.After);
        output.Result(outPath, warnings, report, ("onnx_format", format.ToString().ToLowerInvariant(), Before: "calibration_images"));
        return 0;
    }
}
