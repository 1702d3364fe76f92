// The sum of one layer's inputs over the calibration data, kept per sample shape: for a Conv the sum of its input maps
// (C, H, W…) over the images, for a Linear layer the sum of its input rows. Because a layer is linear in its input, the
// mean of its output over every image and position is the layer applied to these sums, divided by the count — what
// empirical bias correction needs, exactly and in one pass (padding included: it is zero in every image alike).
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Calibration;

/// <summary>Sums of a layer's inputs, per sample shape, with how many samples each holds.</summary>
internal sealed class InputSums
{
    private readonly Dictionary<string, (int[] Shape, double[] Sum, long Count)> _sums = [];

    /// <summary>Sums every row (last axis) when true (Linear layers), every item of the batch axis when false (Conv).</summary>
    public InputSums(bool rows) => Rows = rows;

    /// <summary>Whether a sample is a row of the last axis rather than an item of the batch.</summary>
    public bool Rows { get; }

    /// <summary>Adds the samples of one batch.</summary>
    public void Add(Tensor x)
    {
        int[] shape = Rows ? [x.Shape[^1]] : x.Shape[1..];
        int size = Shape.Size(shape), count = x.Size / Math.Max(1, size);
        string key = string.Join(",", shape);
        if (!_sums.TryGetValue(key, out var entry)) entry = (shape, new double[size], 0);
        var data = x.DataType == DataType.Float32 ? x.Data : TypedOps.Cast(x, DataType.Float32).Data;
        for (int s = 0; s < count; s++)
            for (int i = 0; i < size; i++) entry.Sum[i] += data[s * size + i];
        _sums[key] = (shape, entry.Sum, entry.Count + count);
    }

    /// <summary>One (sum as a batch of one, [1, …shape], and sample count) per sample shape seen.</summary>
    public IEnumerable<(Tensor Sum, long Count)> Sums() =>
        _sums.Values.Select(e => (new Tensor([.. e.Sum.Select(v => (float)v)], [1, .. e.Shape]), e.Count));
}

/// <summary>The input sums of a set of layers: one per value they read, so layers reading the same value share it.</summary>
internal sealed class LayerInputSums
{
    private readonly Dictionary<string, InputSums> _sums = [];
    private readonly Dictionary<string, string> _keyOf = [];
    private readonly HashSet<string> _feeders = [];

    /// <summary>Sums for <paramref name="layers"/> (Conv: input maps; Gemm, MatMul: input rows).</summary>
    public LayerInputSums(IEnumerable<Node> layers)
    {
        foreach (var layer in layers)
        {
            bool rows = layer.OpType != OpTypes.Conv;
            string key = layer.Inputs[0] + (rows ? "|rows" : "|maps");
            if (_sums.TryAdd(key, new InputSums(rows))) _feeders.Add(layer.Name);
            _keyOf[layer.Name] = key;
        }
    }

    /// <summary>Adds a layer's input of one batch; only the first layer reading a value adds it.</summary>
    public void Add(Node layer, Tensor x)
    {
        if (_feeders.Contains(layer.Name)) _sums[_keyOf[layer.Name]].Add(x);
    }

    /// <summary>The sums of the input of the layer named <paramref name="layer"/>, or null when it has none.</summary>
    public InputSums? For(string layer) => _keyOf.TryGetValue(layer, out var key) ? _sums[key] : null;
}
