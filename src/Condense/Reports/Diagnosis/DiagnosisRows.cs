// The rows of a diagnosis, worst SQNR first, with the hints that apply (thresholds in DiagnosisOptions):
//  - outlier input channels — a Gemm/MatMul or Conv whose quantized activation input has channels with a max |x| more than
//    OutlierRatio (20) times the median channel's: one per-tensor scale spends its levels on them and rounds the rest away.
//    Gemm/MatMul → SmoothQuant (Xiao et al. 2023: divide those channels, multiply the weight's columns); Conv chains →
//    cross-layer equalization (Nagel et al. 2019), which evens out per-channel ranges across consecutive layers;
//  - saturation — more than SaturatedFraction (1 %) of a quantized input lies beyond its range: calibrate again;
//  - a jump — a weight layer whose SQNR is JumpDb (10 dB) below the worst value it is computed from (inputs are exact)
//    and ends below JumpBelowDb (25 dB): the layer itself loses the accuracy, so leaving it uncompressed helps most.
using Condense.Graph;

namespace Condense.Reports.Diagnosis;

internal static class DiagnosisRows
{
    /// <summary>The rows of the layers (a weight, or a model output) and of the other values, each worst first.</summary>
    public static (List<LayerDiagnostic> Layers, List<LayerDiagnostic> Values) Build(ModelGraph reference, ValueMatching matching,
        Dictionary<string, ValueError> errors, HashSet<string> shapeDiffers, DiagnosisOptions options)
    {
        var compared = matching.Values.Where(v => !shapeDiffers.Contains(v.Reference) && errors[v.Reference].Elements > 0).ToList();
        var sqnr = compared.ToDictionary(v => v.Reference, v => errors[v.Reference].SqnrDb);
        var producers = new Dictionary<string, Node>();
        foreach (var node in reference.Nodes) foreach (var output in node.Outputs) producers.TryAdd(output, node);
        var upstream = new Dictionary<string, double>();

        // The worst SQNR among the compared values a value is computed from, through values not compared; +∞ at the inputs.
        double Upstream(string value)
        {
            if (sqnr.TryGetValue(value, out double own)) return own;
            if (upstream.TryGetValue(value, out double known)) return known;
            upstream[value] = double.PositiveInfinity;   // a cycle cannot occur in a valid graph; this only stops a bad one
            double worst = producers.TryGetValue(value, out var p) ? Inputs(p).Select(Upstream).DefaultIfEmpty(double.PositiveInfinity).Min()
                : double.PositiveInfinity;
            return upstream[value] = worst;
        }
        IEnumerable<string> Inputs(Node n) => n.Inputs.Where(i => i.Length > 0 && !reference.Initializers.ContainsKey(i));

        var rows = new List<(LayerDiagnostic Row, bool IsLayer, int Order)>();
        foreach (var v in compared)
        {
            var error = errors[v.Reference];
            var producer = producers[v.Reference];
            double before = Inputs(producer).Select(Upstream).DefaultIfEmpty(double.PositiveInfinity).Min();
            double drop = double.IsPositiveInfinity(before) && double.IsPositiveInfinity(error.SqnrDb) ? 0 : before - error.SqnrDb;
            var input = v.Sites.Select(s => s.Report(options.OutlierRatio)).OrderByDescending(s => s.Clipped).ThenByDescending(s => s.Channels)
                .FirstOrDefault();
            var row = new LayerDiagnostic(v.Reference, v.Node.Name, v.Node.OpType, v.Weight, error.SqnrDb, error.Cosine, error.MaxAbsError,
                error.Min, error.Max)
            {
                CompressedValue = v.Compressed == v.Reference ? null : v.Compressed,
                Rescaled = error.Gains is not null,
                SqnrDropDb = drop,
                Input = input,
            };
            rows.Add((row with { Hints = Hints(row, double.IsPositiveInfinity(before), options) }, v.Weight is not null || v.IsOutput, rows.Count));
        }
        var ranked = rows.OrderBy(r => r.Row.SqnrDb).ThenBy(r => r.Order).ToList();
        return ([.. ranked.Where(r => r.IsLayer).Select(r => r.Row)], [.. ranked.Where(r => !r.IsLayer).Select(r => r.Row)]);
    }

    private static List<DiagnosisHint> Hints(LayerDiagnostic row, bool exactInputs, DiagnosisOptions options)
    {
        var hints = new List<DiagnosisHint>();
        if (row.Input is { OutlierChannels: > 0 } input)
        {
            string reason = $"{input.OutlierChannels} of {input.Channels} input channels reach up to {input.OutlierRatio:F0}× the median channel's max |x|";
            hints.Add(new DiagnosisHint(row.OpType == OpTypes.Conv ? DiagnosisFix.Equalize : DiagnosisFix.SmoothQuant, reason));
        }
        if (row.Input is { Low: float low, High: float high } range && range.Clipped > options.SaturatedFraction)
            hints.Add(new DiagnosisHint(DiagnosisFix.Calibration,
                $"{range.Clipped:P1} of the input saturates outside [{low:G3}, {high:G3}]"));
        if (row.Weight is not null && row.SqnrDb < options.JumpBelowDb && (exactInputs || row.SqnrDropDb > options.JumpDb))
            hints.Add(new DiagnosisHint(DiagnosisFix.Exclude, exactInputs
                ? $"SQNR {row.SqnrDb:F1} dB on the model's exact inputs: this layer alone loses it"
                : $"SQNR falls {row.SqnrDropDb:F1} dB below its inputs' ({row.SqnrDb + row.SqnrDropDb:F1} → {row.SqnrDb:F1} dB)"));
        return hints;
    }
}
