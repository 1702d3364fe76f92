// `condense quantize MODEL`: post-training quantization (static with calibration, dynamic, or
// weight-only; 2–8 bit weights, per channel, per tensor or per block), saved as a QDQ graph with integer
// weights, or as .onnx in QDQ, QOperator or MatMulNBits form (--onnx-format).
using Condense.Formats;
using System.ComponentModel;
using Condense.Cli.CommandLine;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Quantization;
using Condense.Quantization.Observers;
using Condense.Reports;
using Condense.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class QuantizeCommand : Command<QuantizeCommand.Settings>
{
    public sealed class Settings : ImageDataSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("The model to quantize (.safetensors or .onnx).")]
        public string Model { get; init; } = "";

        [CommandOption("--mode <MODE>")] [Description("static (default; calibrated activations), dynamic (per batch) or weightonly.")]
        public QuantizationMode Mode { get; init; } = QuantizationMode.Static;

        [CommandOption("--bits <B>")] [Description("Weight bits, 2–8 (default 8).")]
        public int Bits { get; init; } = 8;

        [CommandOption("--per-tensor")] [Description("One weight scale per tensor instead of per output channel.")]
        public bool PerTensor { get; init; }

        [Requires("--mode", "static")]
        [CommandOption("--calibration-method <M>")] [Description("minmax (default), movingaverage, percentile, entropy or mse.")]
        public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

        [CommandOption("--calibration <FILE|DIR>")]
        [Description("Calibration data (static mode, SmoothQuant, GPTQ, AWQ, AdaRound, bias correction): a .npy file of inputs "
            + "(N×784, N×1×28×28, … as the model declares), a folder of IDX files, with --text a text file, with --images a folder of images. "
            + "Default: the training set of --data (the first half of --text or --images).")]
        public string? Calibration { get; init; }

        [CommandOption("--calibration-samples <N>")] [Description("Training samples used to calibrate (default 1000).")]
        public int Samples { get; init; } = 1000;

        [Requires("--mode", "static"), Requires("--calibration-method", "percentile")]
        [CommandOption("--percentile <P>")] [Description("For --calibration-method percentile (default 99.99).")]
        public double Percentile { get; init; } = 99.99;

        [Requires("--mode", "weightonly")]
        [CommandOption("--method <METHOD>")] [Description("Weight-only rounding of block-wise weights: rtn (default), gptq or awq "
            + "(both calibrate on the layers' inputs).")]
        public WeightRounding Rounding { get; init; } = WeightRounding.Rtn;

        [Requires("--mode", "static")]
        [CommandOption("--smoothquant <ALPHA>")] [Description("SmoothQuant: move activation outliers into the weights with strength "
            + "ALPHA in [[0, 1]] (0.5 in the paper; 0.8 measured best on all-MiniLM-L6-v2).")]
        public double? SmoothQuant { get; init; }

        [CommandOption("--equalize")] [Description("Cross-layer equalization (Nagel et al. 2019) before calibrating: each Conv/Linear "
            + "followed (through a ReLU) by another gets per-channel weight ranges equal to that layer's; the float model's outputs do not change.")]
        public bool Equalize { get; init; }

        [CommandOption("--bias-correction")] [Description("Subtract from each quantized layer's bias the mean output shift its "
            + "quantized weight causes on the calibration data (Nagel et al. 2019).")]
        public bool BiasCorrection { get; init; }

        [CommandOption("--adaround")] [Description("AdaRound (Nagel et al. 2020): learn for each weight whether it rounds up or down "
            + "to reconstruct its layer's output on sampled calibration inputs [[500 Adam steps per layer; per-channel or per-tensor scales]].")]
        public bool AdaRound { get; init; }

        [CommandOption("--exclude <PATTERN>")] [Description("Leave layers whose weight name matches in float; repeatable.")]
        public string[] Exclude { get; init; } = [];

        [CommandOption("--max-accuracy-drop <POINTS>")] [Description("Accuracy-aware: keep the most sensitive layers in float "
            + "until the loss is at most this many points (e.g. 0.5).")]
        [ConflictsWith("--images")]
        public double? MaxAccuracyDrop { get; init; }

        [Requires("--mode", "weightonly"), ConflictsWith("--per-tensor")]
        [CommandOption("--block-size <N>")] [Description("Weight-only: one weight scale per N input features of a row "
            + "(16, 32, 64, 128 or 256; default 32 with --onnx-format matmulnbits or --method gptq|awq).")]
        public int? BlockSize { get; init; }

        [CommandOption("--embedding-bits <B>")] [Description("Embedding tables (word, position, token type): 8 (default; int8, a scale "
            + "per row) or 4 (two values a byte, a scale per block of columns; the .onnx file needs opset 18).")]
        public int EmbeddingBits { get; init; } = 8;

        [CommandOption("--embeddings-only")]
        [ConflictsWith("--mode"), ConflictsWith("--bits"), ConflictsWith("--per-tensor"), ConflictsWith("--calibration-method"),
         ConflictsWith("--method"), ConflictsWith("--smoothquant"), ConflictsWith("--equalize"), ConflictsWith("--bias-correction"),
         ConflictsWith("--adaround"), ConflictsWith("--block-size"), ConflictsWith("--max-accuracy-drop"), ConflictsWith("--min-cosine")]
        [Description("Quantize only the embedding tables (--embedding-bits); Linear and Conv layers stay float, e.g. after pruning "
            + "a transformer's heads and neurons.")]
        public bool EmbeddingsOnly { get; init; }

        [Requires("--embedding-bits", "4")]
        [CommandOption("--embedding-block-size <N>")] [Description("4-bit embeddings: one scale per N columns of a row "
            + "(default 32; a width N does not divide gets one scale per row).")]
        public int EmbeddingBlockSize { get; init; } = 32;

        [CommandOption("--onnx-format <FORMAT>")] [Description("For .onnx output: qdq (default; Q/DQ pairs), "
            + "qoperator (QGemm / QLinearConv / MatMulInteger, static or dynamic int8) "
            + "or matmulnbits (ONNX Runtime's MatMulNBits, weight-only int4).")]
        public QuantizedOnnxFormat? OnnxFormat { get; init; }

        [CommandOption("--text <FILE>")] [Description("For a text encoder: passages, one per line. The first half calibrates (static mode), "
            + "the rest measures fidelity to the float model.")]
        [ConflictsWith("--data"), ConflictsWith("--max-accuracy-drop"), ConflictsWith("--images")]
        public string? Text { get; init; }

        [CommandOption("--vocab <FILE>")] [Description(TextOptions.VocabHelp)]
        [Requires("--text")]
        public string? Vocab { get; init; }

        [CommandOption("--min-cosine <C>")] [Description("Fidelity-aware (text): keep the most sensitive layers in float until the mean "
            + "cosine to the float model's embeddings is at least C (e.g. 0.99).")]
        [Requires("--text")]
        public double? MinCosine { get; init; }

        [CommandOption("--max-length <N>")] [Description(TextOptions.MaxLengthHelp)]
        [Requires("--text")]
        public int MaxLength { get; init; } = 128;

        [CommandOption("--report <DIR>")] [Description(ReportRequest.Help)]
        public string? Report { get; init; }

        [CommandOption("--diagnose")] [Description("After quantizing, compare the saved model with MODEL layer by layer on the evaluation data "
            + "(the first 128 samples, images or passages), as `condense diagnose` does; with --json under \"diagnosis\".")]
        public bool Diagnose { get; init; }

        [CommandOption("-o|--out <FILE>")] [Description("Where to save: .onnx writes ONNX (see --onnx-format), "
            + "anything else a checkpoint (default: MODEL.int8.safetensors).")]
        public string? Out { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json) { HoldsResult = settings.Diagnose };
        string outPath = settings.Out ?? Path.ChangeExtension(settings.Model, null) + $".int{settings.Bits}.safetensors";
        int code = Quantize(context, settings, output, outPath);
        if (settings.Diagnose)
            Diagnosis.AfterCompression(output, new Diagnosis.Data(settings, settings.Text, settings.Vocab, settings.MaxLength, Diagnosis.DefaultSamples),
                settings.Model, outPath);
        return code;
    }

    private static int Quantize(CommandContext context, Settings settings, Output output, string outPath)
    {
        CheckOnnxFormat(settings, outPath);
        var options = new QuantizeOptions
        {
            BlockSize = settings.BlockSize ?? QuantizeOptions.DefaultBlockSize(settings.OnnxFormat, settings.Rounding),
            Mode = settings.Mode, WeightBits = settings.Bits, PerChannel = !settings.PerTensor, Calibration = settings.Method,
            CalibrationSamples = settings.Samples, Exclude = settings.Exclude,
            Observer = new ObserverOptions { Percentile = settings.Percentile },
            MaxAccuracyDrop = settings.MaxAccuracyDrop / 100,
            Rounding = settings.Rounding, SmoothQuantAlpha = settings.SmoothQuant, MinCosine = settings.MinCosine,
            Equalize = settings.Equalize, BiasCorrection = settings.BiasCorrection, AdaRound = settings.AdaRound,
            EmbeddingBits = settings.EmbeddingBits, EmbeddingBlockSize = settings.EmbeddingBlockSize, Layers = !settings.EmbeddingsOnly,
        }.Validate();
        if (!options.UsesCalibration && (settings.Calibration is not null || context.Arguments.Contains("--calibration-samples")))
            throw new CondenseException("--calibration and --calibration-samples are used by static mode, GPTQ, AWQ, AdaRound and bias correction only "
                + $"(got --mode {options.Mode.ToString().ToLowerInvariant()}{(options.Mode == QuantizationMode.WeightOnly ? " with --method rtn" : "")})");
        OutputPaths.CheckFile(outPath, new RunInput("input model", settings.Model), new RunInput("data", settings.Data),
            new RunInput("calibration data", settings.Calibration), new RunInput("text", settings.Text), new RunInput("vocabulary", settings.Vocab),
            new RunInput("preprocessing model", settings.PreprocessModel));
        ModelFile.CheckSavable(outPath);
        output.Report = ReportRequest.Check(settings.Report, "quantize", settings.Model);
        if (settings.Text is not null) return QuantizeText.Run(output, settings, options, outPath);
        if (ImageInputs.Given(settings)) return QuantizeImages.Run(output, settings, options, outPath);
        var model = ModelFile.Load(settings.Model);
        var (train, test) = DataSets.Load(settings.Data);
        var calibration = settings.Calibration is { } c ? DataSets.LoadCalibration(c) : train;
        var (quantized, report) = QuantizePipeline.Apply(model, calibration, test, options);
        var format = settings.OnnxFormat ?? QuantizedOnnxFormat.Qdq;
        ModelFile.Save(quantized.Graph, outPath, format);
        report = report with { FileBytesBefore = new FileInfo(settings.Model).Length, FileBytesAfter = AtomicFile.Length(outPath) };

        var granularity = options.BlockSize is int block ? $"blocks of {block}" : report.PerChannel ? "per channel" : "per tensor";
        var table = new Table().Title($"[bold]{report.Mode} int{report.WeightBits}, {granularity}, calibration {report.Calibration}[/]")
            .AddColumns("layer", "weight", "bits", "weight scales");
        // Weight-only layers leave their inputs in float: no input scale to show.
        bool inputsQuantized = report.Mode != QuantizationMode.WeightOnly;
        if (inputsQuantized) table.AddColumns("input scale", "input zero point");
        foreach (var l in report.Layers)
        {
            string[] cells = [Markup.Escape(l.Node), Markup.Escape(l.Weight), $"{l.Bits}", $"{l.MinScale:G3} … {l.MaxScale:G3}"];
            table.AddRow(inputsQuantized ? [.. cells, l.InputScale is { } s ? $"{s:G4}" : "per batch", l.InputZeroPoint is { } z ? $"{z}" : "–"] : cells);
        }
        foreach (var f in report.FloatLayers) table.AddRow(inputsQuantized ? ["", Markup.Escape(f), "float", "", "", ""] : ["", Markup.Escape(f), "float", ""]);
        output.Console.Write(table);
        var summary = new Table().AddColumns("", "float", "quantized");
        summary.AddRow("accuracy", $"{report.AccuracyBefore:P2}", $"{report.AccuracyAfter:P2}");
        summary.AddRow("file size", Output.FormatBytes(report.FileBytesBefore),
            $"{Output.FormatBytes(report.FileBytesAfter)} ({report.CompressionRatio:F1}× smaller)");
        summary.AddRow("latency (batch 1)", $"{report.LatencyMsBefore * 1000:F1} µs", $"{report.LatencyMsAfter * 1000:F1} µs ({report.Engine})");
        output.Console.Write(summary);
        if (report.TargetMet is bool met)
            output.Console.MarkupLine(met
                ? $"[green]target met[/]: loss {(report.AccuracyBefore - report.AccuracyAfter) * 100:F2} points ≤ {settings.MaxAccuracyDrop} "
                    + $"({report.FloatLayers.Count} layers kept in float)"
                : $"[yellow]target not met[/]: best loss {(report.AccuracyBefore - report.AccuracyAfter) * 100:F2} points > {settings.MaxAccuracyDrop}; "
                    + "saved the most accurate model found");
        if (report.FoldedBatchNorms > 0)
            output.Console.MarkupLine($"folded {report.FoldedBatchNorms} batch norm(s) into the preceding Conv/Linear layers before quantizing");
        output.Console.MarkupLine($"saved [bold]{Markup.Escape(outPath)}[/] in {report.Seconds:F1}s");
        var warnings = output.Warnings(RunWarnings.Check(report.AccuracyAfter, test.NumClasses, report.AccuracyBefore, "the float model"));
        output.Result(outPath, warnings, report, ("onnx_format", format.ToString().ToLowerInvariant(), Before: "calibration"));
        return 0;
    }

    // Combinations the chosen ONNX operator set cannot express, refused before any work is done.
    private static void CheckOnnxFormat(Settings settings, string outPath)
    {
        if (settings.OnnxFormat is not { } chosen) return;
        string format = chosen.ToString().ToLowerInvariant();
        // Given explicitly, even the default format is a promise about an .onnx file: never ignore it silently.
        if (!ModelFile.IsOnnx(outPath))
            throw new CondenseException($"--onnx-format {format} needs an .onnx output (--out), not {Path.GetFileName(outPath)}");
        if (settings.OnnxFormat == QuantizedOnnxFormat.QOperator && (settings.Mode == QuantizationMode.WeightOnly || settings.Bits != 8))
            throw new CondenseException("--onnx-format qoperator needs --mode static or dynamic with --bits 8 "
                + $"(got {settings.Mode.ToString().ToLowerInvariant()}, {settings.Bits} bits)");
        if (settings.OnnxFormat == QuantizedOnnxFormat.MatMulNBits && (settings.Mode != QuantizationMode.WeightOnly || settings.Bits > 4))
            throw new CondenseException("--onnx-format matmulnbits needs --mode weightonly with --bits 4 or fewer "
                + $"(got {settings.Mode.ToString().ToLowerInvariant()}, {settings.Bits} bits)");
    }
}
