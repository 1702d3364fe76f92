// `condense distill --teacher MODEL --images DIR --student-prune R`: an image student cut from the teacher (the share R
// of its filters removed, chosen on the training images with the layers reading them refitted; channels joined by
// residual Adds stay whole) and distilled without labels to reproduce the teacher's outputs on
// the images, randomly cropped and flipped; fidelity to the teacher on held-out images before and after, sizes and speed.
using Condense.Data;
using Condense.Data.Images;
using Condense.Distillation;
using Condense.Formats;
using Condense.Inference;
using Condense.Pruning;
using Condense.Reports;
using Condense.Tensors;
using Spectre.Console;

namespace Condense.Cli.Commands;

internal static class DistillImages
{
    public const string DefaultLearningRateText = "3e-5";

    public static int Run(Output output, DistillCommand.Settings s, CancellationToken cancellation)
    {
        var wrong = new (string Name, bool Set)[]
        {
            ("--student", s.Student is not null), ("--student-width", s.StudentWidth is not null), ("--temperature", s.Temperature is not null),
            ("--alpha", s.Alpha is not null), ("--hint", s.Hint is not null), ("--optimizer", s.Optimizer is not null and not Training.OptimizerKind.AdamW),
            ("--eval-text", s.EvalText is not null), ("--vocab", s.Vocab is not null), ("--max-length", s.MaxLength is not null),
            ("--student-layers", s.StudentLayers is not null), ("--student-depth", s.StudentDepth is not null), ("--student-heads", s.StudentHeads is not null),
            ("--student-ffn", s.StudentFfn is not null), ("--student-hidden", s.StudentHidden is not null), ("--hidden-weight", s.HiddenWeight is not null),
            ("--attention-weight", s.AttentionWeight is not null),
        }.Where(o => o.Set).Select(o => o.Name).ToList();
        if (wrong.Count > 0) throw new CondenseException($"{string.Join(", ", wrong)} does not apply to image distillation (--images)");
        if (s.StudentPrune is not double ratio) throw new CondenseException("--images distils the teacher with filters removed: give --student-prune R");
        string outPath = s.Out ?? "student.distilled.onnx";
        OutputPaths.CheckFile(outPath, new RunInput("teacher", s.Teacher), new RunInput("images", s.Images), new RunInput("evaluation images", s.EvalImages),
            new RunInput("preprocessing model", s.PreprocessModel));
        ModelFile.CheckSavable(outPath);
        var defaults = new FeatureDistillOptions();
        var options = new FeatureDistillOptions
        {
            Epochs = s.Epochs ?? defaults.Epochs, BatchSize = s.BatchSize ?? defaults.BatchSize, LearningRate = s.LearningRate ?? defaults.LearningRate,
            Loss = s.Loss ?? defaults.Loss, Seed = s.Seed,
        }.Validate();

        var teacher = ModelFile.Load(s.Teacher!);
        var images = ImageInputs.Load(output, s, s.Images!, teacher, "training");
        Dataset train = images, evaluation;
        if (s.EvalImages is { } folder) evaluation = ImageInputs.Load(output, s, folder, teacher, "evaluation");
        else (train, evaluation) = ImageDistillPipeline.HoldOutFifth(images);
        // The filters go by what they do on the training images (unaugmented), the layers reading them refitted.
        var cutOptions = new FilterCutOptions { ChannelMultiple = s.ChannelMultiple ?? DistillCommand.DefaultChannelMultiple };
        var cut = CountProgress.Run(output, "choosing filters", 100, p => ImageDistillPipeline.Cut(teacher, ratio, train, cutOptions, p));
        var layout = IsChannelsLast(train.SampleShape) ? ImageLayout.Nhwc : ImageLayout.Nchw;
        var sampleShape = train.SampleShape;
        Tensor Augment(Tensor batch, Rng rng) => ImageAugment.RandomResizedCrop(batch, sampleShape, layout, rng);
        var (student, report) = TrainingProgress.Run(output, "distilling", p =>
            ImageDistillPipeline.Distil(teacher, cut, ratio, train, evaluation, options, Augment, p, cancellation));
        ModelFile.Save(student.Graph, outPath);
        report = report with { FileBytesBefore = ModelMetrics.SizeOnDisk(s.Teacher!), FileBytesAfter = ModelMetrics.SizeOnDisk(outPath) };
        var (teacherMs, _) = ImageEvaluation.Speed(teacher, evaluation, 1, 0.3);
        var (studentMs, _) = ImageEvaluation.Speed(student, evaluation, 1, 0.3);
        Print(output, report, teacherMs, studentMs, outPath);
        output.Result(outPath, null, report);
        return 0;
    }

    private static void Print(Output output, ImageDistillReport r, double teacherMs, double studentMs, string outPath)
    {
        foreach (var c in r.StructuralChanges)
            output.Console.MarkupLine($"[green]pruned[/] {Markup.Escape(string.Join(" + ", c.Layers))}: {c.ChannelsBefore} → {c.ChannelsAfter} "
                + (c.Layers.Count > 1 ? "channels (joined by a residual Add)" : "filters"));
        foreach (var skipped in r.Skipped) output.Console.MarkupLine($"[yellow]skipped[/] {Markup.Escape(skipped)}");
        var table = new Table().AddColumns("", "teacher", "student, cut", "student, distilled");
        table.AddRow("cosine to teacher (mean / min)", "1", $"{r.Before.CosineMean:F4} / {r.Before.CosineMin:F4}",
            $"{r.After.CosineMean:F4} / {r.After.CosineMin:F4}");
        table.AddRow("top-10 neighbour overlap", "100 %", $"{r.Before.TopKOverlap:P1}", $"{r.After.TopKOverlap:P1}");
        table.AddRow("parameters", $"{r.TeacherParameters:N0}", $"{r.PrunedParameters:N0}", $"{r.Parameters:N0} (batch norm folded)");
        table.AddRow("file size", Output.FormatBytes(r.FileBytesBefore), "", Output.FormatBytes(r.FileBytesAfter));
        table.AddRow("latency (batch 1)", $"{teacherMs:F1} ms", "", $"{studentMs:F1} ms ({teacherMs / studentMs:F2}× faster)");
        output.Console.Write(table);
        output.Console.MarkupLine($"{r.Epochs.Count} epochs on {r.TrainImages} images, measured on {r.EvaluationImages}; "
            + $"saved [bold]{Markup.Escape(outPath)}[/] in {r.Seconds:F1}s");
    }

    private static bool IsChannelsLast(int[] sampleShape) => sampleShape.Length == 3 && sampleShape[^1] is 1 or 3 && sampleShape[0] is not (1 or 3);
}
