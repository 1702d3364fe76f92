// Tables shared by several commands.
using Condense.Reports;
using Condense.Training;
using Spectre.Console;

namespace Condense.Cli;

internal static class Tables
{
    public static void Epochs(Output output, TrainReport report)
    {
        var table = new Table().AddColumns("epoch", "lr", "train loss", "train acc", "test loss", "test acc", "time");
        foreach (var e in report.Epochs)
            table.AddRow($"{e.Epoch}", $"{e.LearningRate:G3}", $"{e.TrainLoss:F4}", $"{e.TrainAccuracy:P2}",
                e.Validation is null ? "" : $"{e.Validation.Loss:F4}", e.Validation is null ? "" : $"{e.Validation.Accuracy:P2}", $"{e.Seconds:F2}s");
        output.Console.Write(table);
        output.Console.MarkupLine($"trained in {report.Seconds:F1}s ({report.SamplesPerSecond:N0} samples/s)");
    }

    public static void Metrics(Output output, string file, ModelMetrics m)
    {
        var table = new Table().Title($"[bold]{Markup.Escape(Path.GetFileName(file))}[/]").AddColumns("metric", "value");
        table.AddRow("accuracy", $"{m.Accuracy:P2}");
        table.AddRow("loss", $"{m.Loss:F4}");
        table.AddRow("parameters", $"{m.Parameters:N0}");
        table.AddRow("non-zero parameters", $"{m.NonzeroParameters:N0}");
        table.AddRow("file size", Output.FormatBytes(m.FileBytes));
        table.AddRow("latency (batch 1)", $"{m.LatencyMsBatch1 * 1000:F1} µs");
        table.AddRow("throughput (batch 256)", $"{m.ThroughputBatch256:N0} samples/s");
        output.Console.Write(table);
    }

    public static void TextMetrics(Output output, string file, string reference, Condense.Inference.TextMetrics m)
    {
        var table = new Table().Title($"[bold]{Markup.Escape(Path.GetFileName(file))}[/] against {Markup.Escape(Path.GetFileName(reference))}")
            .AddColumns("metric", "value");
        var f = m.Fidelity;
        table.AddRow("passages", $"{f.Passages:N0}");
        table.AddRow("cosine (mean / min)", $"{f.CosineMean:F4} / {f.CosineMin:F4}");
        table.AddRow($"top-{f.Neighbours} neighbour overlap", $"{f.TopKOverlap:P1}");
        table.AddRow("Spearman (pairwise similarities)", $"{f.Spearman:F4}");
        table.AddRow("parameters", $"{m.Parameters:N0}");
        table.AddRow("file size", Output.FormatBytes(m.FileBytes));
        table.AddRow("latency (batch 1)", $"{m.LatencyMsBatch1:F1} ms");
        table.AddRow("throughput (batch 32)", $"{m.ThroughputBatch32:N1} passages/s");
        output.Console.Write(table);
    }
}
