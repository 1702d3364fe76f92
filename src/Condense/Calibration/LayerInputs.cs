// What the calibration-driven methods need to know about each layer's inputs, gathered in one pass of the float model
// over the calibration batches: GPTQ's and SparseGPT's Hessian XᵀX, SmoothQuant's per-channel max |x|, AWQ's per-channel
// mean |x|, Wanda's per-channel Σx² and a bounded sample of input rows (seeded reservoir sampling, so memory stays fixed
// however long the text).
using Condense.Autograd;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Calibration;

/// <summary>Statistics of one layer's inputs over the calibration data.</summary>
internal sealed class LayerInput
{
    public LayerInput(int width, bool hessian, int sampleRows)
    {
        Width = width;
        Hessian = hessian ? new InputHessian(width) : null;
        MaxAbs = new double[width];
        MeanAbs = new double[width];
        SumSquares = new double[width];
        Sample = new List<float[]>(sampleRows);
        SampleRows = sampleRows;
    }

    public int Width { get; }
    public InputHessian? Hessian { get; }
    public double[] MaxAbs { get; }
    public double[] MeanAbs { get; }
    /// <summary>Σ x_j² over all rows, per input feature j: ‖X_j‖₂² (Wanda's activation norm).</summary>
    public double[] SumSquares { get; }
    public List<float[]> Sample { get; }
    public int SampleRows { get; }
    public long Rows { get; private set; }

    public void Add(Tensor x, Rng rng)
    {
        Hessian?.Add(x);
        int rows = x.Size / Width;
        var data = x.Data;
        for (int r = 0; r < rows; r++)
        {
            var row = data.AsSpan(r * Width, Width);
            for (int j = 0; j < Width; j++)
            {
                double a = Math.Abs(row[j]);
                MaxAbs[j] = Math.Max(MaxAbs[j], a);
                MeanAbs[j] += (a - MeanAbs[j]) / (Rows + 1);
                SumSquares[j] += a * a;
            }
            Rows++;
            // Reservoir sampling (Vitter's algorithm R): every row seen so far is kept with the same probability.
            if (Sample.Count < SampleRows) Sample.Add(row.ToArray());
            else if (SampleRows > 0 && rng.NextInt((int)Math.Min(Rows, int.MaxValue)) is var k && k < SampleRows) Sample[k] = row.ToArray();
        }
    }

    /// <summary>The sampled rows as a [rows, width] tensor.</summary>
    public Tensor SampleTensor() => new([.. Sample.SelectMany(r => r)], Sample.Count, Width);
}

internal static class LayerInputs
{
    /// <summary>Runs the float <paramref name="model"/> over <paramref name="feeds"/> and gathers each node's input statistics.</summary>
    public static Dictionary<string, LayerInput> Gather(GraphModule model, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds,
        IReadOnlyList<Node> layers, bool hessian, int sampleRows)
    {
        var inputs = new Dictionary<string, LayerInput>();
        var rng = new Rng(7);
        Visit(model, feeds, layers, (node, x) =>
        {
            if (!inputs.TryGetValue(node.Name, out var stats)) inputs[node.Name] = stats = new LayerInput(x.Shape[^1], hessian, sampleRows);
            stats.Add(x.DataType == DataType.Float32 ? x : TypedOps.Cast(x, DataType.Float32), rng);
        });
        if (inputs.Count < layers.Count) throw new CondenseException("the calibration data is empty");
        return inputs;
    }

    /// <summary>
    /// Runs the float <paramref name="model"/> (evaluation mode, no gradients) over <paramref name="feeds"/> one batch at a time
    /// and hands each of <paramref name="layers"/>' first input to <paramref name="observe"/>; the model's mode is restored.
    /// </summary>
    public static void Visit(GraphModule model, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds, IReadOnlyList<Node> layers,
        Action<Node, Tensor> observe)
    {
        bool training = model.Training;
        model.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            var read = layers.Select(n => n.Inputs[0]).ToHashSet();
            foreach (var feed in feeds)
            {
                // The layers' inputs copied as the pass computes them (it reuses the arrays after), then handed over in the
                // layers' order, as the samplers that share a random stream expect.
                var seen = new Dictionary<string, Tensor>();
                model.RunObserving(feed, read, (name, value) => seen[name] = value.Clone());
                foreach (var node in layers) observe(node, seen[node.Inputs[0]]);
            }
        }
        finally { model.Train(training); }
    }
}
