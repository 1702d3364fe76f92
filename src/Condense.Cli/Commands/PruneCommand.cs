// `condense prune MODEL`: threshold, magnitude (per tensor or global), random, N:M or structured
// pruning, optionally gradual (AGP) or iterative, with masked fine-tuning; prints and saves the report.
using Condense.Formats;
using System.ComponentModel;
using Condense.Cli.CommandLine;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Pruning;
using Condense.Reports;
using Condense.Tensors;
using Condense.Training;
using Condense.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class PruneCommand : Command<PruneCommand.Settings>
{
    public sealed class Settings : ImageDataSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("The model to prune (.safetensors or .onnx).")]
        public string Model { get; init; } = "";

        // One method at a time: the threshold rule has no sparsity, no ranking and no schedule.
        [ConflictsWith("--sparsity"), ConflictsWith("--end"), ConflictsWith("--random"), ConflictsWith("--nm"), ConflictsWith("--structured")]
        [ConflictsWith("--global"), ConflictsWith("--sensitivity"), ConflictsWith("--schedule", "agp", "iterative")]
        [CommandOption("--threshold <T>")] [Description("The classic rule: w = 0 where |w| < T.")]
        public float? Threshold { get; init; }

        [CommandOption("--sparsity <S>")] [Description("Fraction of weights to remove by magnitude (default 0.5); the final sparsity for --schedule agp.")]
        public double? Sparsity { get; init; }

        [ConflictsWith("--sparsity")]
        [CommandOption("--end <S>")] [Description("Same as --sparsity (the AGP schedule's final sparsity).")]
        public double? End { get; init; }

        [ConflictsWith("--sensitivity")]
        [CommandOption("--global")] [Description("Rank weights of all chosen tensors together.")]
        public bool Global { get; init; }

        [ConflictsWith("--structured")]
        [CommandOption("--random")] [Description("Remove random weights instead of the smallest (a baseline).")]
        public bool Random { get; init; }

        [ConflictsWith("--sparsity"), ConflictsWith("--end"), ConflictsWith("--random"), ConflictsWith("--structured"), ConflictsWith("--global")]
        [ConflictsWith("--sensitivity"), ConflictsWith("--schedule", "agp", "iterative")]
        [CommandOption("--nm <N:M>")] [Description("Semi-structured: keep N of every M consecutive input weights, e.g. 2:4.")]
        public string? NM { get; init; }

        // Structured pruning removes a ratio of neurons per layer, once: no sparsity target, ranking or schedule.
        [ConflictsWith("--sparsity"), ConflictsWith("--end"), ConflictsWith("--global"), ConflictsWith("--include-biases"), ConflictsWith("--sensitivity")]
        [ConflictsWith("--schedule", "agp", "iterative")]
        [CommandOption("--structured")] [Description("Remove whole conv filters and linear neurons, with their biases, batch-norm channels "
            + "and the next layers' matching inputs.")]
        public bool Structured { get; init; }

        [Requires("--structured")]
        [CommandOption("--skip-residual")] [Description("With --structured: leave layers joined by a residual Add alone instead of pruning them together.")]
        public bool SkipResidual { get; init; }

        [Requires("--structured")]
        [CommandOption("--ratio <R>")] [Description("With --structured: fraction of filters/neurons removed per layer (default 0.5).")]
        public double Ratio { get; init; } = 0.5;

        [Requires("--structured"), ConflictsWith("--calibration")]
        [CommandOption("--norm <NORM>")] [Description("With --structured: l1 or l2 (default l2).")]
        public NeuronNorm Norm { get; init; } = NeuronNorm.L2;

        [CommandOption("--include <PATTERN>")] [Description("Only tensors whose name matches ('*', '?'); repeatable.")]
        public string[] Include { get; init; } = [];

        [CommandOption("--exclude <PATTERN>")] [Description("Leave tensors whose name matches; repeatable.")]
        public string[] Exclude { get; init; } = [];

        [CommandOption("--include-biases")] [Description("Prune biases too.")]
        public bool IncludeBiases { get; init; }

        [ConflictsWith("--images")]
        [CommandOption("--sensitivity <FILE>")] [Description("A JSON written by `condense sensitivity`: per-tensor sparsities meeting --sparsity as a budget.")]
        public string? SensitivityFile { get; init; }

        [CommandOption("--schedule <NAME>")] [Description("oneshot (default), agp (gradual, during fine-tuning) or iterative (prune-retrain rounds).")]
        public PruneSchedule Schedule { get; init; } = PruneSchedule.OneShot;

        [Requires("--schedule", "agp")]
        [CommandOption("--start <S>")] [Description("AGP: initial sparsity (default 0).")]
        public double Start { get; init; }

        [Requires("--schedule", "agp")]
        [CommandOption("--steps <N>")] [Description("AGP: number of pruning steps (default 10).")]
        public int Steps { get; init; } = 10;

        [Requires("--schedule", "iterative")]
        [CommandOption("--rounds <R>")] [Description("Iterative: prune-retrain rounds (default 3).")]
        public int Rounds { get; init; } = 3;

        [CommandOption("--text <FILE>")] [Description("For a text encoder: passages, one per line; prunes and measures fidelity to the original "
            + "model on them (on the second half when the first half calibrates --score or --allocation sensitivity).")]
        [ConflictsWith("--data"), ConflictsWith("--structured"), ConflictsWith("--sensitivity"), ConflictsWith("--images")]
        [ConflictsWith("--schedule", "agp", "iterative")]
        public string? Text { get; init; }

        [CommandOption("--vocab <FILE>")] [Description(TextOptions.VocabHelp)]
        [Requires("--text")]
        public string? Vocab { get; init; }

        [CommandOption("--max-length <N>")] [Description(TextOptions.MaxLengthHelp)]
        [Requires("--text")]
        public int MaxLength { get; init; } = 128;

        [CommandOption("--score <NAME>")] [Requires("--text")]
        [Description("With --text: rank weights by magnitude (default), wanda (|w|·‖x‖, Sun et al. 2023) or sparsegpt (one-shot with weight "
            + "updates from the calibration Hessian, Frantar & Alistarh 2023).")]
        public PruneScore Score { get; init; } = PruneScore.Magnitude;

        [CommandOption("--allocation <NAME>")] [Requires("--text|--images|--data")]
        [ConflictsWith("--nm"), ConflictsWith("--global"), ConflictsWith("--random"), ConflictsWith("--threshold")]
        [Description("With --text or --images: uniform (default: every layer at --sparsity) or sensitivity (each layer pruned alone at "
            + "20–90 % and measured on the calibration passages' embeddings or images' outputs, then --sparsity spent where it costs least; "
            + "8 measurements per layer). With --images --structured: each layer's filters cut alone at 20–90 % (chosen on the calibration "
            + "images, readers refitted), then --ratio of their parameters removed where it costs least.")]
        public SparsityAllocation Allocation { get; init; } = SparsityAllocation.Uniform;

        [CommandOption("--sensitivity-samples <N>")] [Requires("--allocation", "sensitivity")]
        [Description("With --allocation sensitivity: calibration passages or images each measurement runs (default 32).")]
        public int SensitivitySamples { get; init; } = PruneOptions.DefaultSensitivitySamples;

        [CommandOption("--calibration <PATH>")] [Requires("--text|--images|--data")]
        [Description("With --text: passages that wanda and sparsegpt score on and --allocation sensitivity measures on (default: the first "
            + "half of --text). With --images --structured: a folder of images the filters are chosen on, the layers reading them refitted "
            + "(residual channels stay whole); with --images --allocation sensitivity: images the sparsities are measured on (default: every "
            + "other image of --images, the rest measured). With --data FILE.npy: a .npy of inputs, as images are used.")]
        public string? Calibration { get; init; }

        [CommandOption("--channel-multiple <N>")] [Requires("--structured")]
        [Description("With --structured: the filters/neurons each layer of at least 4·N keeps rounded to the nearest multiple of N "
            + "(default 1; 16 suits ONNX Runtime's blocked convolutions on AVX-512, 8 on AVX2).")]
        public int ChannelMultiple { get; init; } = 1;

        [CommandOption("--finetune-epochs <E>")] [Description("Epochs of fine-tuning with the masks held (default 0).")]
        public int FinetuneEpochs { get; init; }

        [CommandOption("--finetune-text <FILE>")] [Requires("--text"), Requires("--finetune-epochs")]
        [Description("With --text: unlabelled passages to fine-tune on, by distillation from the original model.")]
        public string? FinetuneText { get; init; }

        [Requires("--finetune-epochs")]
        [CommandOption("--lr <X>")] [Description("Fine-tuning learning rate (default 0.1, or 0.01 with --structured or for a model with convolutions; "
            + "with --text, AdamW's peak " + PruneText.DefaultLearningRateText + ").")]
        public float? LearningRate { get; init; }

        [CommandOption("-s|--seed <S>")] [Description("Seed of random pruning and fine-tuning (default 0).")]
        public ulong Seed { get; init; }

        [CommandOption("--report <DIR>")] [Description(ReportRequest.Help)]
        public string? Report { get; init; }

        [CommandOption("--diagnose")] [Description("After pruning, compare the saved model with MODEL layer by layer on the evaluation data "
            + "(the first 128 samples, images or passages), as `condense diagnose` does; with --json under \"diagnosis\".")]
        public bool Diagnose { get; init; }

        [CommandOption("-o|--out <FILE>")] [Description("Where to save the pruned model; .onnx writes ONNX (default: MODEL.pruned.safetensors).")]
        public string? Out { get; init; }

        public PruneRun ToRun()
        {
            var defaults = new PruneOptions();
            double sparsity = End ?? Sparsity ?? defaults.Sparsity;
            var method = Threshold is not null ? PruneMethod.Threshold : NM is not null ? PruneMethod.NM : Random ? PruneMethod.Random : PruneMethod.Magnitude;
            var (n, m) = NM is null ? (defaults.N, defaults.M) : ParseNM(NM);
            var options = new PruneOptions
            {
                Method = method, Threshold = Threshold ?? defaults.Threshold, Sparsity = sparsity, Global = Global, N = n, M = m,
                Include = Include, Exclude = Exclude, IncludeBiases = IncludeBiases, Seed = Seed, Score = Score,
                Allocation = Allocation, SensitivitySamples = SensitivitySamples,
            };
            return new PruneRun
            {
                Options = options, Structured = Structured, PruneJoined = !SkipResidual, Ratio = Ratio, Norm = Norm, Schedule = Schedule,
                ChannelMultiple = ChannelMultiple,
                AgpInitialSparsity = Start, AgpPruningSteps = Steps, Rounds = Rounds, FinetuneEpochs = FinetuneEpochs,
                // No --lr: the library's default recipe (PruneRun.DefaultFinetune), seeded the same way.
                Finetune = LearningRate is { } lr ? new TrainOptions { LearningRate = lr, Seed = Seed } : null,
            };
        }

        private static (int, int) ParseNM(string text)
        {
            var parts = text.Split(':');
            if (parts.Length == 2 && int.TryParse(parts[0], out int n) && int.TryParse(parts[1], out int m)) return (n, m);
            throw new CondenseException($"--nm expects N:M such as 2:4, got '{text}'");
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json) { HoldsResult = settings.Diagnose };
        string outPath = settings.Out ?? Path.ChangeExtension(settings.Model, null) + ".pruned.safetensors";
        int code = Prune(settings, output, outPath);
        if (settings.Diagnose)
            Diagnosis.AfterCompression(output, new Diagnosis.Data(settings, settings.Text, settings.Vocab, settings.MaxLength, Diagnosis.DefaultSamples),
                settings.Model, outPath);
        return code;
    }

    private static int Prune(Settings settings, Output output, string outPath)
    {
        var run = settings.ToRun();
        if (run.Schedule == PruneSchedule.Agp && run.FinetuneEpochs == 0)
            throw new CondenseException("the AGP schedule prunes during fine-tuning: give --finetune-epochs");
        OutputPaths.CheckFile(outPath, new RunInput("input model", settings.Model), new RunInput("data", settings.Data),
            new RunInput("sensitivity report", settings.SensitivityFile), new RunInput("text", settings.Text), new RunInput("vocabulary", settings.Vocab),
            new RunInput(settings.Text is not null ? "calibration text" : "calibration data", settings.Calibration),
            new RunInput("fine-tuning text", settings.FinetuneText),
            new RunInput("preprocessing model", settings.PreprocessModel));
        ModelFile.CheckSavable(outPath);
        output.Report = ReportRequest.Check(settings.Report, "prune", settings.Model);
        if (settings.Text is not null) return PruneText.Run(output, settings, run.Options, outPath);
        if (ImageInputs.Given(settings)) return PruneImages.Run(output, settings, run, outPath);
        if (settings.Calibration is not null || settings.Allocation != SparsityAllocation.Uniform)
            throw new CondenseException($"{(settings.Calibration is not null ? "--calibration" : "--allocation")} only applies with --text, --images "
                + "or an array file as --data (.npy, .csv), not a folder of IDX files");
        var model = ModelFile.Load(settings.Model);
        if (settings.SensitivityFile is not null)
        {
            if (!File.Exists(settings.SensitivityFile)) throw new CondenseException($"sensitivity report {settings.SensitivityFile} does not exist");
            var report = SensitivityFile.Read(settings.SensitivityFile);
            Sensitivity.CheckModel(report, model, settings.SensitivityFile);
            var perTensor = Sensitivity.AllocateBudget(report, run.Options.Sparsity);
            run = run with { Options = run.Options with { PerTensorSparsity = perTensor, Global = false } };
        }
        var (train, test) = DataSets.Load(settings.Data);
        var (pruned, result) = TrainingProgress.Run(output, "fine-tune", progress => PrunePipeline.Apply(model, train, test, run, progress));
        ModelFile.Save(pruned.Graph, outPath);
        result = result with { FileBytesBefore = new FileInfo(settings.Model).Length, FileBytesAfter = AtomicFile.Length(outPath) };

        var table = new Table().Title($"[bold]{Markup.Escape(result.Method)}[/]")
            .AddColumns("tensor", "shape", "parameters", "non-zero before", "non-zero after", "sparsity");
        foreach (var t in result.Tensors)
            table.AddRow(Markup.Escape(t.Name),
                Markup.Escape(Shape.Equal(t.ShapeBefore, t.ShapeAfter)
                    ? Shape.Format(t.ShapeAfter)
                    : $"{Shape.Format(t.ShapeBefore)} → {Shape.Format(t.ShapeAfter)}"),
                $"{t.Parameters:N0}", $"{t.NonzeroBefore:N0}", $"{t.NonzeroAfter:N0}", $"{t.Sparsity:P2}");
        table.AddRow("[bold]total[/]", "", $"[bold]{result.ParametersAfter:N0}[/]", $"{result.NonzeroBefore:N0}",
            $"[bold]{result.NonzeroAfter:N0}[/]", $"[bold]{result.TotalSparsity:P2}[/]");
        output.Console.Write(table);
        var summary = new Table().AddColumns("", "before", "after pruning", "after fine-tuning");
        summary.AddRow("accuracy", $"{result.AccuracyBefore:P2}", float.IsNaN(result.AccuracyAfterPruning) ? "" : $"{result.AccuracyAfterPruning:P2}",
            result.AccuracyAfterFinetuning is { } f ? $"{f:P2} ({result.FinetuneEpochs} epochs)" : "–");
        summary.AddRow("parameters", $"{result.ParametersBefore:N0}", $"{result.ParametersAfter:N0}", "");
        summary.AddRow("non-zero", $"{result.NonzeroBefore:N0}", $"{result.NonzeroAfter:N0}", "");
        summary.AddRow("file size", Output.FormatBytes(result.FileBytesBefore), Output.FormatBytes(result.FileBytesAfter), "");
        output.Console.Write(summary);
        foreach (var c in result.StructuralChanges ?? [])
            output.Console.MarkupLine($"[green]pruned[/] {Markup.Escape(string.Join(" + ", c.Layers))}: {c.ChannelsBefore} → {c.ChannelsAfter} "
                + (c.Layers.Count > 1 ? "channels (joined by a residual Add)" : "filters/neurons"));
        foreach (var s in result.Skipped ?? []) output.Console.MarkupLine($"[yellow]skipped[/] {Markup.Escape(s)}");
        output.Console.MarkupLine($"saved [bold]{Markup.Escape(outPath)}[/] in {result.Seconds:F1}s");
        var warnings = output.Warnings(RunWarnings.Check(result.FinalAccuracy, test.NumClasses, result.AccuracyBefore, "the model before pruning"));
        output.Result(outPath, warnings, result);
        return 0;
    }
}
