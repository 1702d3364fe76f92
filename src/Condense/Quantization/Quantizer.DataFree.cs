// The quantizer's side of Nagel et al.'s methods that learn from the calibration pass: what AdaRound and bias correction keep
// of each layer's inputs (gathered in the same pass as static mode's observers), and AdaRound's codes for one layer — a
// Linear weight as [out, in] against sampled input rows, a 2-D Conv weight group by group against sampled input patches.
// Cross-layer equalization needs no data and runs before all of it (Quantizer.Quantize).
using Condense.Calibration;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Quantization;

public static partial class Quantizer
{
    // The samples of the layers' float inputs: conv patches or input rows for AdaRound, input sums for bias correction.
    private sealed class LayerSamples
    {
        private readonly Dictionary<string, ConvPatches> _patches = [];
        private readonly Dictionary<string, LayerInput> _rows = [];
        private readonly Rng _rng;

        public LayerSamples(IEnumerable<Node> layers, ModelGraph source, QuantizeOptions options)
        {
            var list = layers.ToList();
            _rng = new Rng(options.AdaRoundOptions.Seed);
            if (options.BiasCorrection) Sums = new LayerInputSums(list);
            if (!options.AdaRound) return;
            int rows = options.AdaRoundOptions.SampleRows;
            foreach (var node in list)
            {
                var shape = source.Initializers[node.Inputs[1]].Shape;
                // Inputs per row: a Gemm weight is [out, in] with transB, else [in, out] as a MatMul's; other Convs than 2-D keep rounding to nearest.
                int inputs = node.OpType == OpTypes.Gemm && node.Int("transB", 0) != 0 ? shape[1] : shape[0];
                if (node.OpType != OpTypes.Conv) _rows[node.Name] = new LayerInput(inputs, hessian: false, rows);
                else if (shape.Length == 4) _patches[node.Name] = new ConvPatches(node, shape, rows);
            }
        }

        public LayerInputSums? Sums { get; }

        public void Add(Node node, Tensor x)
        {
            Sums?.Add(node, x);
            if (_patches.TryGetValue(node.Name, out var patches)) patches.Add(x, _rng);
            else if (_rows.TryGetValue(node.Name, out var rows)) rows.Add(x.DataType == DataType.Float32 ? x : TypedOps.Cast(x, DataType.Float32), _rng);
        }

        // The sampled inputs AdaRound reconstructs the layer's output on: [rows, in] or [patches, C·kH·kW]; null when none.
        public Tensor? AdaRoundInputs(Node node) =>
            _patches.TryGetValue(node.Name, out var patches) ? patches.Sample()
            : _rows.TryGetValue(node.Name, out var rows) && rows.Sample.Count > 0 ? rows.SampleTensor() : null;
    }

    // AdaRound's codes for a layer's weight with the quantizer's scales (one per output channel, or one for the whole tensor).
    private static sbyte[] AdaRoundCodes(Node node, Tensor weight, int outputAxis, QuantParams[] scales, QuantRange range, Tensor inputs,
        AdaRoundOptions options)
    {
        int outputs = weight.Shape[outputAxis];
        var rowScales = Enumerable.Range(0, outputs).Select(o => scales[scales.Length == 1 ? 0 : o].Scale).ToArray();
        if (node.OpType != OpTypes.Conv)
        {
            var codes = AdaRound.Round(InputScaling.AsLinear(weight, outputAxis), rowScales, range, inputs, options).Codes;
            return ToSByte(outputAxis == 0 ? codes : codes.Transpose());
        }
        // A Conv weight (M, C/G, kH, kW): group g's outputs are rows g·M/G…, their patch columns the run g·(C/G)·kH·kW….
        int groups = (int)node.Int("group", 1), rows = outputs / groups, width = weight.Size / outputs;
        var result = new sbyte[weight.Size];
        for (int g = 0; g < groups; g++)
        {
            var groupWeight = new Tensor(weight.Data.AsSpan(g * rows * width, rows * width).ToArray(), rows, width);
            var groupInputs = groups == 1 ? inputs : Columns(inputs, g * width, width);
            var codes = AdaRound.Round(groupWeight, rowScales[(g * rows)..((g + 1) * rows)], range, groupInputs, options).Codes;
            ToSByte(codes).CopyTo(result, g * rows * width);
        }
        return result;
    }

    private static Tensor Columns(Tensor x, int start, int count)
    {
        int n = x.Shape[0], width = x.Shape[1];
        var data = new float[n * count];
        for (int r = 0; r < n; r++) Array.Copy(x.Data, r * width + start, data, r * count, count);
        return new Tensor(data, n, count);
    }

    private static sbyte[] ToSByte(Tensor codes) => [.. codes.Data.Select(v => (sbyte)v)];
}
