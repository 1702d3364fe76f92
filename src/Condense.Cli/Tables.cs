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

    /// <summary>
    /// A causal language model's rows in a before/after table (columns: name, original, compressed[, fine-tuned]):
    /// perplexity, next-token agreement and KL to the original; nothing for other models.
    /// </summary>
    public static void LanguageModelRows(Table table, Condense.Inference.LanguageModelMetrics? compressed, Condense.Inference.LanguageModelMetrics? tuned)
    {
        if ((compressed ?? tuned) is not { } any) return;
        bool fourth = table.Columns.Count > 3;
        string[] Row(string name, string original, string value, string later) => fourth ? [name, original, value, later] : [name, original, value];
        table.AddRow(Row("perplexity (next token)", $"{any.ReferencePerplexity:G5}", $"{compressed?.Perplexity:G5}", $"{tuned?.Perplexity:G5}"));
        table.AddRow(Row("next-token agreement", "100 %", $"{compressed?.NextTokenAgreement:P1}", $"{tuned?.NextTokenAgreement:P1}"));
        table.AddRow(Row("KL to original (nats/token)", "0", $"{compressed?.KlToReference:G4}", $"{tuned?.KlToReference:G4}"));
    }

    public static void TextMetrics(Output output, string file, string? reference, Condense.Inference.TextMetrics m, int passages)
    {
        string against = reference is null ? "" : $" against {Markup.Escape(Path.GetFileName(reference))}";
        var table = new Table().Title($"[bold]{Markup.Escape(Path.GetFileName(file))}[/]{against}").AddColumns("metric", "value");
        table.AddRow("passages", $"{passages:N0}");
        if (m.LanguageModel is { } lm)
        {
            table.AddRow("perplexity (next token)", lm.ReferencePerplexity is double r ? $"{lm.Perplexity:G5} (reference {r:G5})" : $"{lm.Perplexity:G5}");
            if (lm.NextTokenAgreement is double agreement) table.AddRow("next-token agreement", $"{agreement:P1}");
            if (lm.KlToReference is double kl) table.AddRow("KL to reference (nats/token)", $"{kl:G4}");
        }
        if (m.Fidelity is { } f)
        {
            table.AddRow("cosine (mean / min)", $"{f.CosineMean:F4} / {f.CosineMin:F4}");
            table.AddRow($"top-{f.Neighbours} neighbour overlap", $"{f.TopKOverlap:P1}");
            table.AddRow("Spearman (pairwise similarities)", $"{f.Spearman:F4}");
        }
        table.AddRow("parameters", $"{m.Parameters:N0}");
        table.AddRow("file size", Output.FormatBytes(m.FileBytes));
        table.AddRow("latency (batch 1)", $"{m.LatencyMsBatch1:F1} ms");
        table.AddRow("throughput (batch 32)", $"{m.ThroughputBatch32:N1} passages/s");
        output.Console.Write(table);
    }
    public static void ImageMetrics(Output output, string file, string? reference, Condense.Inference.ImageMetrics m, string unit = "images")
    {
        string against = reference is null ? "" : $" against {Markup.Escape(Path.GetFileName(reference))}";
        var table = new Table().Title($"[bold]{Markup.Escape(Path.GetFileName(file))}[/]{against}").AddColumns("metric", "value");
        foreach (var (name, value) in ImageRows(m, unit)) table.AddRow(name, value);
        output.Console.Write(table);
    }

    /// <summary>Image models side by side (before and after a pass): one column per model, the rows of <see cref="ImageMetrics"/>.</summary>
    public static void ImageComparison(Output output, params (string Name, Condense.Inference.ImageMetrics Metrics)[] columns) =>
        ImageComparison(output, "images", columns);

    /// <summary>As <see cref="ImageComparison(Output, ValueTuple{string, Condense.Inference.ImageMetrics}[])"/>, counting <paramref name="unit"/>.</summary>
    public static void ImageComparison(Output output, string unit, params (string Name, Condense.Inference.ImageMetrics Metrics)[] columns)
    {
        var table = new Table().AddColumn("");
        foreach (var (name, _) in columns) table.AddColumn(Markup.Escape(name));
        var rows = columns.Select(c => ImageRows(c.Metrics, unit).ToDictionary(r => r.Name, r => r.Value)).ToList();
        // Rows in the order one model with every figure would list them.
        var order = new[] { unit, "accuracy", "cosine", "top-10", "top-1", "relative error", "parameters", "file size", "latency", "throughput" };
        int Rank(string name) => Array.FindIndex(order, o => name.StartsWith(o, StringComparison.Ordinal));
        foreach (var name in rows.SelectMany(r => r.Keys).Distinct().OrderBy(Rank).ToList())
            table.AddRow([name, .. rows.Select(r => r.GetValueOrDefault(name, "–"))]);
        output.Console.Write(table);
    }

    private static IEnumerable<(string Name, string Value)> ImageRows(Condense.Inference.ImageMetrics m, string unit)
    {
        yield return (unit, $"{m.Images:N0}");
        if (m.Accuracy is double accuracy) yield return ("accuracy", $"{accuracy:P2}");
        if (m.Fidelity is { } f)
        {
            yield return ("cosine to original (mean / min)", $"{f.CosineMean:F4} / {f.CosineMin:F4}");
            yield return ("top-10 neighbour overlap", $"{f.TopKOverlap:P1}");
            if (f.Top1Agreement is double top1) yield return ("top-1 agreement", $"{top1:P1}");
            yield return ("relative error ‖Δ‖/‖original‖", $"{f.RelativeError:G3}");
        }
        yield return ("parameters", $"{m.Parameters:N0}");
        if (m.FileBytes > 0) yield return ("file size", Output.FormatBytes(m.FileBytes));
        // A quantized model names what ran it: the integer engine, or the float simulation of a graph it does not take.
        string engine = m.Engine == "float" ? "" : $" ({m.Engine})";
        yield return ("latency (batch 1)", (m.LatencyMsBatch1 < 1 ? $"{m.LatencyMsBatch1 * 1000:F1} µs" : $"{m.LatencyMsBatch1:F1} ms") + engine);
        yield return ("throughput", $"{m.ThroughputBatch8:N1} {unit}/s");
    }

    /// <summary>The sparsity each tensor got: the point of a sensitivity allocation.</summary>
    public static void SparsityByTensor(Output output, IEnumerable<Condense.Pruning.PrunedTensor> tensors)
    {
        var table = new Table().Title("[bold]sparsity by tensor[/]").AddColumns("tensor", "parameters", "sparsity");
        foreach (var t in tensors) table.AddRow(Markup.Escape(t.Name), $"{t.Parameters:N0}", $"{t.Sparsity:P1}");
        output.Console.Write(table);
    }
}
