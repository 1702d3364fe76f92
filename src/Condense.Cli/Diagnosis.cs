// The per-layer diagnosis on the command line (`condense diagnose`, and --diagnose on quantize and prune): the data the
// options name as the models' inputs (the MNIST test set by default or --data, --images, --text), the library's
// comparison, and its table — worst layer first, each hint turned into the option that applies it.
using System.Globalization;
using System.Text.Json.Nodes;
using Condense.Cli.Commands;
using Condense.Data;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Reports;
using Condense.Reports.Diagnosis;
using Condense.Tensors;
using Spectre.Console;

namespace Condense.Cli;

internal static class Diagnosis
{
    public const int DefaultSamples = 128;
    public const int DefaultTop = 20;
    private const int MnistBatch = 64;

    /// <summary>Where the inputs come from: the data options of a command.</summary>
    public sealed record Data(ImageDataSettings Images, string? Text, string? Vocab, int MaxLength, int Samples);

    /// <summary>Loads both models, runs them on the data and returns the diagnosis.</summary>
    public static DiagnosisReport Run(Output output, Data data, string referencePath, string compressedPath)
    {
        if (data.Samples < 1) throw new CondenseException($"--samples must be at least 1, got {data.Samples}");
        var reference = ModelFile.Load(referencePath);
        var compressed = ModelFile.Load(compressedPath);
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> feeds;
        int total;
        if (data.Text is { } text)
        {
            TextOptions.CheckLengths(data.MaxLength, 1);
            var tokenizer = TextOptions.Tokenizer(referencePath, data.Vocab, reference.Graph);
            tokenizer.PositionLimit = Condense.Inference.TextPositions.Limit(reference, tokenizer, data.MaxLength);
            var passages = TextPassages.Read(text).Take(data.Samples).ToList();
            var inputs = Condense.Inference.TextFeeds.Inputs(reference.Graph);
            // One passage per call, as calibration runs: no padding token enters the comparison.
            feeds = () => tokenizer.CalibrationFeeds(inputs, passages, data.MaxLength);
            total = passages.Count;
        }
        else
        {
            var samples = data.Images.Images is { } folder
                ? ImageInputs.Load(output, data.Images, folder, reference, "diagnosis").Take(data.Samples)
                : DataSets.Load(data.Images.Data).Test.Take(data.Samples);
            int batch = MnistBatch;
            if (data.Images.Images is not null)
            {
                (reference, int referenceBatch) = ImageInputs.Batchable(output, reference, quiet: true);
                (compressed, int compressedBatch) = ImageInputs.Batchable(output, compressed, quiet: true);
                batch = Math.Min(referenceBatch, compressedBatch);
            }
            if (reference.Graph.Inputs.Count != 1)
                throw new CondenseException($"the data feeds one input; the model has {reference.Graph.Inputs.Count}: give --text for a text model");
            string input = reference.Graph.Inputs[0].Name;
            feeds = () => samples.Feeds(input, batch);
            total = samples.Count;
        }
        return CountProgress.Run(output, "diagnosing", total, progress => LayerDiagnosis.Diagnose(reference, compressed, () => Counted(feeds(), progress)));
    }

    // The feeds, reporting the samples handed out so far.
    private static IEnumerable<IReadOnlyDictionary<string, Tensor>> Counted(IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, IProgress<int> progress)
    {
        int done = 0;
        foreach (var feed in feeds)
        {
            yield return feed;
            done += feed.Values.First().Shape[0];
            progress.Report(done);
        }
    }

    /// <summary>After a quantize or prune run: the saved model against the input model, printed, and added to the JSON result.</summary>
    public static void AfterCompression(Output output, Data data, string referencePath, string compressedPath)
    {
        // In a distributed run rank 0 diagnoses the file it wrote; the other ranks have none to read and print nothing.
        if (!ProcessRole.WritesOutputs) return;
        var report = Run(output, data, referencePath, compressedPath);
        Print(output, report, $"{Path.GetFileName(compressedPath)} against {Path.GetFileName(referencePath)}", DefaultTop);
        output.WriteHeldReport(report);
        output.PrintHeld("diagnosis", ToJson(report));
    }

    /// <summary>The table of the <paramref name="top"/> worst layers, then each shown layer's hints with their reasons.</summary>
    public static void Print(Output output, DiagnosisReport report, string title, int top)
    {
        var table = new Table().Title($"[bold]per-layer error: {Markup.Escape(title)}[/]")
            .AddColumns("layer", "op", "SQNR dB", "cosine", "max |error|", "range", "input quantized to", "clipped", "fix");
        var shown = report.Layers.Take(top).ToList();
        foreach (var l in shown)
        {
            var q = l.Input;
            string quantized = q is null ? "" : q.Dynamic ? "dynamic" : $"{q.Low:G3} … {q.High:G3}";
            table.AddRow(Markup.Escape(l.Node), Markup.Escape(l.OpType), Db(l.SqnrDb) + (l.Rescaled ? " *" : ""), $"{l.Cosine:F5}",
                $"{l.MaxAbsError:G3}", $"{l.Min:G3} … {l.Max:G3}", quantized, q is null || q.Dynamic ? "" : $"{q.Clipped:P1}",
                Markup.Escape(string.Join("\n", l.Hints.Select(h => Option(h, l)))));
        }
        output.Console.Write(table);
        foreach (var l in shown.Concat(report.Values.Where(v => v.Hints.Count > 0)))
            foreach (var h in l.Hints)
                output.Console.MarkupLine($"[yellow]{Markup.Escape(l.Node)}[/]: {Markup.Escape(h.Reason)} "
                    + $"→ try {Markup.Escape(Advice(h, l, report.Quantized))}");
        var notes = new List<string> { $"{report.Layers.Count} layers compared on {report.Samples} samples, worst first" };
        if (report.Layers.Count > shown.Count) notes.Add($"{report.Layers.Count - shown.Count} more with --json");
        if (report.Values.Count > 0)
            notes.Add($"{report.Values.Count} other value{(report.Values.Count == 1 ? "" : "s")} (activations, norms, sums) with --json, "
                + $"the worst {report.Values[0].Node} at {Db(report.Values[0].SqnrDb)} dB");
        if (report.Layers.Concat(report.Values).Any(l => l.Rescaled))
            notes.Add("* rescaled per channel (equalization): compared after each channel's least-squares gain");
        if (report.NotFound > 0) notes.Add($"{report.NotFound} values of the reference not in the compressed model");
        if (report.ShapeDiffers.Count > 0) notes.Add($"{report.ShapeDiffers.Count} with other shapes (channels removed) not compared");
        output.Console.MarkupLine(Markup.Escape(string.Join("; ", notes)));
    }

    /// <summary>The report as JSON, each hint with the command and option that apply it (`option`: "quantize --smoothquant 0.5").</summary>
    public static JsonObject ToJson(DiagnosisReport report)
    {
        var json = ReportJson.ToObject(report);
        foreach (var (key, rows) in new[] { ("layers", report.Layers), ("values", report.Values) })
        {
            var array = json[key]!.AsArray();
            for (int i = 0; i < rows.Count; i++)
            {
                var hints = array[i]!["hints"]!.AsArray();
                for (int j = 0; j < hints.Count; j++) hints[j]!["option"] = Command(rows[i].Hints[j], rows[i], report.Quantized);
            }
        }
        return json;
    }

    // The option that applies the fix (of `condense quantize`, or of `prune` for --exclude on a model without quantization).
    private static string Option(DiagnosisHint hint, LayerDiagnostic layer) => hint.Fix switch
    {
        DiagnosisFix.SmoothQuant => "--smoothquant 0.5",
        DiagnosisFix.Equalize => "--equalize",
        DiagnosisFix.Calibration => "--calibration-method minmax",
        DiagnosisFix.Exclude => $"--exclude {layer.Weight}",
        _ => hint.Fix,
    };

    // The command and option: `quantize --smoothquant 0.5`.
    private static string Command(DiagnosisHint hint, LayerDiagnostic layer, bool quantized) =>
        $"{(hint.Fix == DiagnosisFix.Exclude && !quantized ? "prune" : "quantize")} {Option(hint, layer)}";

    // The command with what else may help.
    private static string Advice(DiagnosisHint hint, LayerDiagnostic layer, bool quantized) => hint.Fix == DiagnosisFix.Calibration
        ? Command(hint, layer, quantized) + ", or --calibration with data like these"
        : Command(hint, layer, quantized);

    private static string Db(double db) => double.IsPositiveInfinity(db) ? "exact" : db.ToString("F1", CultureInfo.InvariantCulture);
}
