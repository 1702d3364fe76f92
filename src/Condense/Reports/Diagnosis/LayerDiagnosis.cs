// Per-layer diagnosis of a compressed model (issue 18; ONNX Runtime's qdq_loss_debug does the same by hand): run the
// reference (float) model and the compressed one — quantized (QDQ, or a QOperator file read back as QDQ), pruned, any
// GraphModule — on the same inputs, keep every value each computes, and compare the values both compute
// (ValueMatching.cs says how names are matched) batch by batch, streaming the sums (ValueError.cs), never the activations.
// The compressed model runs as its graph's float simulation: for a QDQ graph that is the exact quantized arithmetic, which
// the integer engine matches within one step of each requantization. Where the compressed model rescales a value per channel
// (cross-layer equalization), a second pass compares it after the least-squares gain of each channel (DiagnosisRows.cs).
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Reports.Diagnosis;

/// <summary>Compares a compressed model with its reference layer by layer.</summary>
public static class LayerDiagnosis
{
    // A value counts as rescaled when per-channel gains explain this much more of its difference, in dB.
    private const double RescaledGainDb = 10;
    private const float MinRescaling = 2;

    /// <summary>
    /// Runs <paramref name="reference"/> and <paramref name="compressed"/> on the batches <paramref name="feeds"/> yields (each the models'
    /// inputs by name; called twice when a value turns out rescaled) and reports every value both compute, worst SQNR first.
    /// Both models must take the same inputs; they run in evaluation mode without gradients, and their modes are restored.
    /// </summary>
    public static DiagnosisReport Diagnose(GraphModule reference, GraphModule compressed,
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> feeds, DiagnosisOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(compressed);
        ArgumentNullException.ThrowIfNull(feeds);
        options = (options ?? new DiagnosisOptions()).Validate();
        var matching = ValueMatching.Build(reference.Graph, compressed.Graph);
        var errors = matching.Values.ToDictionary(v => v.Reference, _ => new ValueError());
        var shapeDiffers = new HashSet<string>();
        int samples = Run(reference, compressed, feeds(), matching, errors, shapeDiffers, collectSites: true);
        if (samples == 0) throw new CondenseException("no inputs to compare the models on: the data is empty");

        // Values a per-channel gain explains far better than they match as they are: measured again with the gains applied.
        var rescaled = new Dictionary<string, ValueError>();
        if (matching.Quantized)
            foreach (var (name, error) in errors)
                if (!shapeDiffers.Contains(name) && error.FittedGains() is { } gains && IsRescaling(gains)
                    && error.RescaledSqnrDb() >= error.SqnrDb + RescaledGainDb)
                    rescaled[name] = new ValueError(gains);
        if (rescaled.Count > 0)
        {
            Run(reference, compressed, feeds(), matching, rescaled, shapeDiffers, collectSites: false);
            foreach (var (name, error) in rescaled) errors[name] = error;
        }
        var (layers, values) = DiagnosisRows.Build(reference.Graph, matching, errors, shapeDiffers, options);
        return new DiagnosisReport(samples, matching.Quantized, layers, values, matching.NotFound, [.. shapeDiffers.Order(StringComparer.Ordinal)]);
    }

    // Gains of a rescaling: all positive (equalization's scales are), and at least one channel moved by a factor of 2 — what
    // rounding noise never fits, while a channel that is constant over the data (a token-type embedding) fits any small gain.
    private static bool IsRescaling(float[] gains) => gains.All(g => g > 0) && gains.Any(g => g >= MinRescaling || g <= 1 / MinRescaling);

    // One pass over the feeds: both models run each batch, every matched value's error (and, when asked, every quantizer
    // site) is accumulated. Returns the number of samples.
    private static int Run(GraphModule reference, GraphModule compressed, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds,
        ValueMatching matching, Dictionary<string, ValueError> errors, HashSet<string> shapeDiffers, bool collectSites)
    {
        bool referenceTraining = reference.Training, compressedTraining = compressed.Training;
        reference.Eval();
        compressed.Eval();
        int samples = 0;
        var sites = collectSites ? matching.Values.SelectMany(v => v.Sites).Distinct().ToList() : [];
        try
        {
            using var _ = GradMode.NoGrad();
            foreach (var feed in feeds)
            {
                samples += feed.Values.FirstOrDefault() is { Rank: > 0 } first ? first.Shape[0] : 1;
                var expected = reference.Run(feed);
                var actual = compressed.Run(feed);
                foreach (var value in matching.Values)
                {
                    if (!errors.TryGetValue(value.Reference, out var error) || shapeDiffers.Contains(value.Reference)) continue;
                    if (!expected.TryGetValue(value.Reference, out var r) || !actual.TryGetValue(value.Compressed, out var x)) continue;
                    if (!r.DataType.IsFloat() || !x.DataType.IsFloat()) continue;
                    if (!Shape.Equal(r.Shape, x.Shape)) { shapeDiffers.Add(value.Reference); continue; }
                    error.Add(r.Data, x.Data, r.Shape);
                }
                foreach (var site in sites)
                    if (actual.TryGetValue(site.Value, out var v) && v.DataType.IsFloat()) site.Add(v.Data, v.Shape);
            }
        }
        finally
        {
            reference.Train(referenceTraining);
            compressed.Train(compressedTraining);
        }
        return samples;
    }
}
