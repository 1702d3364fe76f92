// `condense quantize MODEL`: post-training quantization (static with calibration, dynamic, or
// weight-only; 2–8 bit weights, per channel or per tensor), saved as a QDQ graph with integer weights.
using System.ComponentModel;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Quantization;
using Condense.Quantization.Observers;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class QuantizeCommand : Command<QuantizeCommand.Settings>
{
    public sealed class Settings : DataSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("The model to quantize (.safetensors or .onnx).")]
        public string Model { get; init; } = "";

        [CommandOption("--mode <MODE>")] [Description("static (default; calibrated activations), dynamic (per batch) or weightonly.")]
        public QuantizationMode Mode { get; init; } = QuantizationMode.Static;

        [CommandOption("--bits <B>")] [Description("Weight bits, 2–8 (default 8).")]
        public int Bits { get; init; } = 8;

        [CommandOption("--per-tensor")] [Description("One weight scale per tensor instead of per output channel.")]
        public bool PerTensor { get; init; }

        [CommandOption("--calibration-method <M>")] [Description("minmax (default), movingaverage, percentile, entropy or mse.")]
        public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

        [CommandOption("--calibration <FILE|DIR>")] [Description("Calibration data: a .npy file of inputs (N×784, N×1×28×28, … as the model declares) or a folder of IDX files. Default: the training set of --data.")]
        public string? Calibration { get; init; }

        [CommandOption("--calibration-samples <N>")] [Description("Training samples used to calibrate (default 1000).")]
        public int Samples { get; init; } = 1000;

        [CommandOption("--percentile <P>")] [Description("For --calibration-method percentile (default 99.99).")]
        public double Percentile { get; init; } = 99.99;

        [CommandOption("--exclude <PATTERN>")] [Description("Leave layers whose weight name matches in float; repeatable.")]
        public string[] Exclude { get; init; } = [];

        [CommandOption("--max-accuracy-drop <POINTS>")] [Description("Accuracy-aware: keep the most sensitive layers in float until the loss is at most this many points (e.g. 0.5).")]
        public double? MaxAccuracyDrop { get; init; }

        [CommandOption("-o|--out <FILE>")] [Description("Where to save: .onnx writes ONNX (QDQ), anything else a checkpoint (default: MODEL.int8.safetensors).")]
        public string? Out { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        var options = new QuantizeOptions
        {
            Mode = settings.Mode, WeightBits = settings.Bits, PerChannel = !settings.PerTensor, Calibration = settings.Method,
            CalibrationSamples = settings.Samples, Exclude = settings.Exclude,
            Observer = new ObserverOptions { Percentile = settings.Percentile },
            MaxAccuracyDrop = settings.MaxAccuracyDrop / 100,
        }.Validate();
        string outPath = settings.Out ?? Path.ChangeExtension(settings.Model, null) + $".int{settings.Bits}.safetensors";
        if (Path.GetFullPath(outPath) == Path.GetFullPath(settings.Model))
            throw new CondenseException("the output would overwrite the input model; choose another --out");
        var model = ModelFiles.Load(settings.Model);
        var (train, test) = DataSets.Load(settings.Data);
        var calibration = settings.Calibration is { } c ? DataSets.LoadCalibration(c) : train;
        var (_, report) = QuantizePipeline.Run(model, calibration, test, options, outPath, new FileInfo(settings.Model).Length);

        var table = new Table().Title($"[bold]{report.Mode} int{report.WeightBits}, {(report.PerChannel ? "per channel" : "per tensor")}, calibration {report.Calibration}[/]")
            .AddColumns("layer", "weight", "bits", "weight scales", "input scale", "input zero point");
        foreach (var l in report.Layers)
            table.AddRow(Markup.Escape(l.Node), Markup.Escape(l.Weight), $"{l.Bits}", $"{l.MinScale:G3} … {l.MaxScale:G3}",
                l.InputScale is { } s ? $"{s:G4}" : "per batch", l.InputZeroPoint is { } z ? $"{z}" : "–");
        foreach (var f in report.FloatLayers) table.AddRow("", Markup.Escape(f), "float", "", "", "");
        output.Console.Write(table);
        var summary = new Table().AddColumns("", "float", "quantized");
        summary.AddRow("accuracy", $"{report.AccuracyBefore:P2}", $"{report.AccuracyAfter:P2}");
        summary.AddRow("file size", Output.FormatBytes(report.FileBytesBefore), $"{Output.FormatBytes(report.FileBytesAfter)} ({report.CompressionRatio:F1}× smaller)");
        summary.AddRow("latency (batch 1)", $"{report.LatencyMsBefore * 1000:F1} µs", $"{report.LatencyMsAfter * 1000:F1} µs ({report.Engine})");
        output.Console.Write(summary);
        if (report.TargetMet is bool met)
            output.Console.MarkupLine(met
                ? $"[green]target met[/]: loss {(report.AccuracyBefore - report.AccuracyAfter) * 100:F2} points ≤ {settings.MaxAccuracyDrop} ({report.FloatLayers.Count} layers kept in float)"
                : $"[yellow]target not met[/]: best loss {(report.AccuracyBefore - report.AccuracyAfter) * 100:F2} points > {settings.MaxAccuracyDrop}; saved the most accurate model found");
        output.Console.MarkupLine($"saved [bold]{Markup.Escape(outPath)}[/] in {report.Seconds:F1}s");
        output.Result(new
        {
            output = outPath,
            mode = report.Mode.ToString().ToLowerInvariant(),
            bits = report.WeightBits,
            per_channel = report.PerChannel,
            calibration = report.Calibration,
            accuracy = report.AccuracyAfter,
            accuracy_before = report.AccuracyBefore,
            file_bytes = report.FileBytesAfter,
            file_bytes_before = report.FileBytesBefore,
            compression_ratio = report.CompressionRatio,
            latency_ms_batch1 = report.LatencyMsAfter,
            latency_ms_batch1_before = report.LatencyMsBefore,
            engine = report.Engine,
            seconds = report.Seconds,
            layers = report.Layers.Select(l => new { node = l.Node, weight = l.Weight, bits = l.Bits, min_scale = l.MinScale, max_scale = l.MaxScale, input_scale = l.InputScale, input_zero_point = l.InputZeroPoint }),
            float_layers = report.FloatLayers,
            target_met = report.TargetMet,
            sensitivities = report.Sensitivities?.Select(x => new { weight = x.Weight, accuracy = x.Accuracy, drop = x.Drop }),
        });
        return 0;
    }
}
