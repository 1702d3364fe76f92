// `condense distill --teacher T --student SPEC`: knowledge distillation, shown side by side with the
// teacher and the same student trained from labels only with the same budget.
using Condense.Formats;
using System.ComponentModel;
using Condense.Cli.CommandLine;
using Condense.Onnx;
using Condense.Data;
using Condense.Distillation;
using Condense.Graph;
using Condense.Nn;
using Condense.Reports;
using Condense.Training;
using Condense.Cli.Reporting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class DistillCommand : Command<DistillCommand.Settings>
{
    /// <summary>Image students keep a multiple of this many filters per layer unless told otherwise.</summary>
    public const int DefaultChannelMultiple = 16;

    public sealed class Settings : ImageDataSettings
    {
        [CommandOption("--teacher <MODEL>")] [Description("The teacher model (.safetensors or .onnx).")]
        public string? Teacher { get; init; }

        [ConflictsWith("--student-width"), ConflictsWith("--student-prune")]
        [CommandOption("--student <SPEC>")] [Description("The student as a spec, e.g. mlp:784-30-10.")]
        public string? Student { get; init; }

        [ConflictsWith("--student-prune")]
        [CommandOption("--student-width <F>")] [Description("Or: the teacher's MLP with every hidden layer F times as wide (e.g. 0.25).")]
        public double? StudentWidth { get; init; }

        [CommandOption("--student-prune <R>")] [Description("Or: the teacher itself with the weakest R of its neurons removed (with --images: "
            + "the R of each layer's filters that the images show matter least, the layer reading them refitted; residual channels stay whole).")]
        public double? StudentPrune { get; init; }

        [CommandOption("--channel-multiple <N>")] [Requires("--images"), Requires("--student-prune")]
        [Description("With --images --student-prune: the filters each layer of at least 4·N keeps rounded to the nearest multiple of N "
            + "(default 16: ONNX Runtime's blocked convolutions take channels 16 at a time on AVX-512, 8 on AVX2; 1 keeps exactly 1 − R).")]
        public int? ChannelMultiple { get; init; }

        [CommandOption("--temperature <T>")] [Description("Softmax temperature (default 4).")]
        public float? Temperature { get; init; }

        [CommandOption("--alpha <A>")] [Description("Weight of the soft targets; 1 − A goes to the labels (default 0.9; 1 needs no labels).")]
        public float? Alpha { get; init; }

        [CommandOption("-e|--epochs <N>")] [Description("Epochs for both students (default 20; with --text, 3; with --images, 60).")]
        public int? Epochs { get; init; }

        [CommandOption("--lr <X>")] [Description("Learning rate (default 0.05; 0.02 for a convolutional student such as lenet5; with --text, AdamW's peak "
            + DistillText.DefaultLearningRateText + "; with --images, " + DistillImages.DefaultLearningRateText + ").")]
        public float? LearningRate { get; init; }

        [CommandOption("--optimizer <NAME>")] [Description("sgd (momentum 0.9, default), adam or adamw. Text students always train with AdamW.")]
        public OptimizerKind? Optimizer { get; init; }

        [CommandOption("-b|--batch-size <B>")] [Description("Mini-batch size (default 64; with --text, 32 passages; with --images, 16 images).")]
        public int? BatchSize { get; init; }

        [CommandOption("--hint <STUDENT:TEACHER>")] [Description("FitNets hint: a student and a teacher hidden value by graph name (see `condense info`), "
            + "e.g. /2/Relu_output_0:/4/Relu_output_0.")]
        public string? Hint { get; init; }

        [Requires("--hint")]
        [CommandOption("--hint-weight <W>")] [Description("Weight of the hint term (default 1).")]
        public float HintWeight { get; init; } = 1f;

        [CommandOption("-s|--seed <S>")] [Description("Seed of both students (default 0).")]
        public ulong Seed { get; init; }

        [CommandOption("--report <DIR>")] [Description(ReportRequest.Help)]
        public string? Report { get; init; }

        [CommandOption("-o|--out <FILE>")] [Description("Where to save the distilled student; .onnx writes ONNX "
            + "(default: student.distilled.safetensors; with --text, student.distilled.onnx).")]
        public string? Out { get; init; }

        [CommandOption("--text <FILE>")] [Description("Distil a text encoder on this UTF-8 text, one passage per line; no labels needed.")]
        [ConflictsWith("--images")]
        public string? Text { get; init; }

        [CommandOption("--eval-images <DIR>")] [Description("With --images: images to measure fidelity on (default: every fifth image of --images, "
            + "left out of training).")]
        [Requires("--images")]
        public string? EvalImages { get; init; }

        [CommandOption("--eval-text <FILE>")] [Description("With --text: passages to measure fidelity on (default: every 20th passage of --text, "
            + "left out of training).")]
        public string? EvalText { get; init; }

        [CommandOption("--vocab <FILE>")] [Description(TextOptions.VocabHelp)]
        public string? Vocab { get; init; }

        [CommandOption("--max-length <N>")] [Description(TextOptions.MaxLengthHelp)]
        public int? MaxLength { get; init; }

        [ConflictsWith("--student-depth")]
        [CommandOption("--student-layers <LIST>")] [Description("With --text: the teacher layers the student keeps, with their weights, e.g. 0,2,4.")]
        public string? StudentLayers { get; init; }

        [CommandOption("--student-depth <N>")]
        [Description("With --text: keep N of the teacher's layers: the first, the last and evenly between (6 → 3 keeps 0,3,5).")]
        public int? StudentDepth { get; init; }

        [CommandOption("--student-heads <R>")] [Description("With --text: remove the share R of attention heads in every layer (physically), "
            + "chosen on the first 1,024 training passages; the output projection is refitted to make up for them.")]
        public double? StudentHeads { get; init; }

        [CommandOption("--student-ffn <R>")] [Description("With --text: remove the share R of feed-forward neurons in every layer (physically), "
            + "chosen as --student-heads are; the narrowing layer is refitted.")]
        public double? StudentFfn { get; init; }

        [CommandOption("--student-hidden <D>")]
        [Description("With --text: narrow the residual stream to D channels (a learned projection restores the teacher's width at the output).")]
        public int? StudentHidden { get; init; }

        [CommandOption("--student-allocation <NAME>")]
        [Description("With --student-heads or --student-ffn: uniform (default: the same share of every layer) or sensitivity (each layer "
            + "cut alone at 20–90 % and measured on the first 32 calibration passages' embeddings, then the same total removed where it "
            + "costs least).")]
        public Condense.Pruning.SparsityAllocation? StudentAllocation { get; init; }

        [CommandOption("--loss <KIND>")] [Description("With --text or --images: how embeddings or features are compared, cosine (default) or mse.")]
        public Condense.Distillation.EmbeddingLoss? Loss { get; init; }

        [CommandOption("--hidden-weight <W>")]
        [Description("With --text: weight of matching the hidden states of mapped layers (default 0; 30 distilled all-MiniLM-L6-v2 best).")]
        public float? HiddenWeight { get; init; }

        [CommandOption("--attention-weight <W>")] [Description("With --text: weight of matching the attention maps of mapped layers (default 0).")]
        public float? AttentionWeight { get; init; }
    }

    private static HintOptions? ParseHint(string? text, float weight)
    {
        if (text is null) return null;
        var parts = text.Split(':');
        if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            throw new CondenseException($"--hint expects STUDENT_VALUE:TEACHER_VALUE, got '{text}'");
        return new HintOptions(parts[0], parts[1], weight);
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        if (settings.Teacher is null) throw new CondenseException("--teacher MODEL is required");
        output.Report = ReportRequest.Check(settings.Report, "distill", settings.Teacher);
        if (settings.Text is not null) return DistillText.Run(output, settings, cancellationToken);
        if (settings.Images is not null) return DistillImages.Run(output, settings, cancellationToken);
        DistillText.RefuseTextOptions(settings);
        string outPath = settings.Out ?? "student.distilled.safetensors";
        int choices = (settings.Student is null ? 0 : 1) + (settings.StudentWidth is null ? 0 : 1) + (settings.StudentPrune is null ? 0 : 1);
        if (choices != 1) throw new CondenseException("give exactly one of --student SPEC, --student-width F or --student-prune R");
        OutputPaths.CheckFile(outPath, new RunInput("teacher", settings.Teacher), new RunInput("data", settings.Data));
        ModelFile.CheckSavable(outPath);
        var teacher = ModelFile.Load(settings.Teacher);
        var (train, test) = DataSets.Load(settings.Data);
        var studentSpec = settings.Student is { } text ? ModelSpec.Parse(text) : null;
        var defaults = new DistillOptions();
        var options = new DistillOptions
        {
            Temperature = settings.Temperature ?? defaults.Temperature, Alpha = settings.Alpha ?? defaults.Alpha,
            Train = defaults.Train with
            {
                Epochs = settings.Epochs ?? defaults.Train.Epochs,
                LearningRate = settings.LearningRate ?? DistillOptions.DefaultLearningRate(studentSpec, teacher),
                Optimizer = settings.Optimizer ?? defaults.Train.Optimizer,
                BatchSize = settings.BatchSize ?? defaults.Train.BatchSize, Seed = settings.Seed,
            },
            Hint = ParseHint(settings.Hint, settings.HintWeight),
        }.Validate();
        Func<Module> newStudent;
        string studentName;
        if (settings.StudentPrune is double ratio)
        {
            newStudent = () => DistillPipeline.PrunedCopy(teacher, ratio);
            studentName = $"the teacher with {ratio:P0} of its neurons removed";
        }
        else
        {
            var spec = studentSpec ?? DistillPipeline.ShrunkSpec(teacher, settings.StudentWidth!.Value);
            if (spec.InFeatures != train.FeatureSize)
                throw new CondenseException($"student {spec} takes {spec.InFeatures} inputs but {train.Name} samples have {train.FeatureSize} features");
            // A hint names graph values, so the student runs as a graph when one is asked for.
            newStudent = options.Hint is null
                ? () => spec.Build(settings.Seed)
                : () => new GraphModule(GraphTracer.Trace(spec.Build(settings.Seed), train.SampleShape));
            studentName = spec.ToString();
        }
        var (student, report) = TrainingProgress.Run(output, "students", p => DistillPipeline.Apply(teacher, newStudent, train, test, options, p));
        ModelFile.Save(student, outPath, train.SampleShape);
        report = report.WithSavedStudent(AtomicFile.Length(outPath));

        var table = new Table().Title($"[bold]distillation into {Markup.Escape(studentName)}[/]")
            .AddColumns("model", "accuracy", "test errors", "parameters", "size on disk", "latency (b=1)", "throughput (b=256)");
        foreach (var row in report.Rows)
        {
            var m = row.Metrics;
            table.AddRow(row.Name, $"{m.Accuracy:P2}", $"{(int)Math.Round((1 - m.Accuracy) * test.Count)}/{test.Count}", $"{m.Parameters:N0}",
                Output.FormatBytes(m.FileBytes), $"{m.LatencyMsBatch1 * 1000:F1} µs", $"{m.ThroughputBatch256:N0}/s");
        }
        output.Console.Write(table);
        output.Console.MarkupLine($"T = {report.Temperature}, α = {report.Alpha}, {report.Epochs} epochs; "
            + $"saved [bold]{Markup.Escape(outPath)}[/] in {report.Seconds:F1}s");
        // The distilled student should come close to the same student trained on the labels; far below it, the run failed.
        var warnings = output.Warnings(RunWarnings.Check(report.Rows[^1].Metrics.Accuracy, test.NumClasses, report.Rows[^2].Metrics.Accuracy,
            "the same student trained on labels only"));
        output.Result(outPath, warnings, report);
        return 0;
    }
}
