// `condense distill --teacher MODEL --text FILE`: a text student cut from the teacher (some of its layers) and distilled on
// unlabelled passages, measured by fidelity to the teacher before and after, with sizes and speed.
using System.Globalization;
using Condense.Data.Text;
using Condense.Distillation;
using Condense.Formats;
using Condense.Inference;
using Condense.Pruning;
using Condense.Reports;
using Spectre.Console;

namespace Condense.Cli.Commands;

internal static class DistillText
{
    public const string DefaultLearningRateText = "5e-4";

    // Options of the image/MNIST mode that mean nothing for text, and the reverse: naming one in the wrong mode is an error.
    public static void RefuseTextOptions(DistillCommand.Settings s)
    {
        var given = new (string Name, bool Set)[]
        {
            ("--eval-text", s.EvalText is not null), ("--vocab", s.Vocab is not null), ("--max-length", s.MaxLength is not null),
            ("--student-layers", s.StudentLayers is not null), ("--student-depth", s.StudentDepth is not null), ("--loss", s.Loss is not null),
            ("--student-heads", s.StudentHeads is not null), ("--student-ffn", s.StudentFfn is not null), ("--student-hidden", s.StudentHidden is not null),
            ("--student-allocation", s.StudentAllocation is not null), ("--hidden-weight", s.HiddenWeight is not null),
            ("--attention-weight", s.AttentionWeight is not null),
        }.Where(o => o.Set).Select(o => o.Name).ToList();
        if (given.Count > 0) throw new CondenseException($"{string.Join(", ", given)} applies to text students: give --text FILE");
    }

    public static int Run(Output output, DistillCommand.Settings s, CancellationToken cancellation)
    {
        var wrong = new (string Name, bool Set)[]
        {
            ("--data", s.Data is not null), ("--student", s.Student is not null), ("--student-width", s.StudentWidth is not null),
            ("--student-prune", s.StudentPrune is not null), ("--temperature", s.Temperature is not null), ("--alpha", s.Alpha is not null),
            ("--hint", s.Hint is not null), ("--optimizer", s.Optimizer is not null and not Training.OptimizerKind.AdamW),
        }.Where(o => o.Set).Select(o => o.Name).ToList();
        if (wrong.Count > 0) throw new CondenseException($"{string.Join(", ", wrong)} does not apply to text distillation (--text)");
        foreach (var (name, share) in new[] { ("--student-heads", s.StudentHeads), ("--student-ffn", s.StudentFfn) })
            if (share is double f && !(f >= 0 && f < 1)) throw new CondenseException($"{name} is the share to remove, in [0, 1); got {f}");
        string outPath = s.Out ?? "student.distilled.onnx";
        OutputPaths.CheckFile(outPath, new RunInput("teacher", s.Teacher), new RunInput("text", s.Text), new RunInput("evaluation text", s.EvalText),
            new RunInput("vocabulary", s.Vocab));
        ModelFile.CheckSavable(outPath);
        var defaults = new TextDistillOptions();
        var options = new TextDistillOptions
        {
            Loss = s.Loss ?? defaults.Loss, HiddenWeight = s.HiddenWeight ?? defaults.HiddenWeight,
            AttentionWeight = s.AttentionWeight ?? defaults.AttentionWeight,
            Epochs = s.Epochs ?? defaults.Epochs, BatchSize = s.BatchSize ?? defaults.BatchSize, LearningRate = s.LearningRate ?? defaults.LearningRate,
            MaxLength = s.MaxLength ?? defaults.MaxLength, Seed = s.Seed,
        }.Validate();
        var student = new TextStudentOptions
        {
            Layers = ParseLayers(s.StudentLayers), Depth = s.StudentDepth, HeadFraction = s.StudentHeads ?? 0, FeedForwardFraction = s.StudentFfn ?? 0,
            HiddenWidth = s.StudentHidden, Allocation = s.StudentAllocation ?? SparsityAllocation.Uniform,
        };
        if (s.StudentAllocation is not null && s.StudentHeads is null && s.StudentFfn is null)
            throw new CondenseException("--student-allocation spreads --student-heads or --student-ffn over the layers: give one of them");

        var teacher = ModelFile.Load(s.Teacher!);
        var tokenizer = TextOptions.Tokenizer(s.Teacher!, s.Vocab, teacher.Graph).FitTo(teacher, s.Teacher!, options.MaxLength, output);
        options = options with { Pooling = TextOptions.Pooling(s.Teacher!, teacher, output) };
        student = student with { Pooling = options.Pooling };
        var passages = TextPassages.Read(s.Text!);
        IReadOnlyList<string> train = passages, evaluation;
        if (s.EvalText is { } evalFile) evaluation = TextPassages.Read(evalFile);
        else
        {
            if (passages.Count < 40) throw new CondenseException($"{Path.GetFileName(s.Text)}: {passages.Count} passages; "
                + "at least 40 are needed to hold every 20th out for measuring (or give --eval-text FILE)");
            evaluation = [.. passages.Where((_, i) => i % 20 == 19)];
            train = [.. passages.Where((_, i) => i % 20 != 19)];
        }
        // Heads and neurons are chosen on the first training passages, and the layers reading them refitted (structured OBS).
        if (student.HeadFraction > 0 || student.FeedForwardFraction > 0)
            student = student with { Calibration = [.. train.Take(TextStudentOptions.DefaultCalibrationPassages)] };
        // The student is cut before the progress display starts, so a bad layer list is a one-line error.
        var cut = student.Allocation == SparsityAllocation.Sensitivity
            ? CountProgress.Run(output, "measuring sensitivity", "cut", 0,
                (sweep, _) => TextDistillPipeline.Cut(teacher, tokenizer, student, options.MaxLength, sweep))
            : TextDistillPipeline.Cut(teacher, tokenizer, student, options.MaxLength);
        var (model, report) = TrainingProgress.Run(output, "distilling",
            p => TextDistillPipeline.Distil(teacher, cut, tokenizer, train, evaluation, student, options, p, cancellation));
        TextOptions.CarryInto(model.Graph, tokenizer, options.Pooling);
        ModelFile.Save(model.Graph, outPath);
        var speedPassages = evaluation.Take(64).ToList();
        var (teacherLatency, teacherThroughput) = TextEvaluation.Speed(teacher, tokenizer, speedPassages, options.MaxLength);
        var (latency, throughput) = TextEvaluation.Speed(model, tokenizer, speedPassages, options.MaxLength);
        report = report with
        {
            FileBytesBefore = ModelMetrics.SizeOnDisk(s.Teacher!), FileBytesAfter = ModelMetrics.SizeOnDisk(outPath),
            Speed = new TextSpeed(teacherLatency, latency, teacherThroughput, throughput),
        };
        Print(output, report, outPath);
        output.Result(outPath, null, report);
        return 0;
    }

    private static void Print(Output output, TextDistillReport report, string outPath)
    {
        string narrower = (report.HeadFraction > 0 ? $", {report.HeadFraction:P0} of heads removed" : "")
            + (report.FeedForwardFraction > 0 ? $", {report.FeedForwardFraction:P0} of feed-forward neurons removed" : "")
            + (report.HiddenWidth is int width ? $", width {width}" : "");
        var table = new Table().Title($"[bold]student: teacher layers {string.Join(",", report.Layers)}{narrower}[/]")
            .AddColumns("", "teacher", "student, not distilled", "student, distilled");
        Tables.LanguageModelRows(table, report.LanguageModelBefore, report.LanguageModelAfter);
        table.AddRow("cosine to teacher (mean / min)", "1", $"{report.Before.CosineMean:F4} / {report.Before.CosineMin:F4}",
            $"{report.After.CosineMean:F4} / {report.After.CosineMin:F4}");
        table.AddRow("top-10 neighbour overlap", "100 %", $"{report.Before.TopKOverlap:P1}", $"{report.After.TopKOverlap:P1}");
        table.AddRow("Spearman (pairwise similarities)", "1", $"{report.Before.Spearman:F4}", $"{report.After.Spearman:F4}");
        table.AddRow("parameters", $"{report.TeacherParameters:N0}", "", $"{report.Parameters:N0}");
        table.AddRow("file size", Output.FormatBytes(report.FileBytesBefore), "", Output.FormatBytes(report.FileBytesAfter));
        if (report.Speed is { } speed)
        {
            table.AddRow("latency (batch 1)", $"{speed.TeacherLatencyMs:F1} ms", "", $"{speed.LatencyMs:F1} ms");
            table.AddRow("throughput (batch 32)", $"{speed.TeacherThroughput:N0}/s", "", $"{speed.Throughput:N0}/s");
        }
        output.Console.Write(table);
        var last = report.Epochs[^1];
        output.Console.MarkupLine($"{report.Epochs.Count} epochs on {report.TrainPassages:N0} passages (final loss {last.Loss:F4}), measured on "
            + $"{report.EvaluationPassages} held-out passages; saved [bold]{Markup.Escape(outPath)}[/] in {report.Seconds:F0}s");
    }

    private static int[]? ParseLayers(string? text)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var layers = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out layers[i]))
                throw new CondenseException($"--student-layers expects layer numbers separated by commas, e.g. 0,2,4; got '{text}'");
        return layers;
    }
}
