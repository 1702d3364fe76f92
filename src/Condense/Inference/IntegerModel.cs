// The integer-only engine for static-quantized MLPs (Jacob et al. 2018, "Quantization and Training of Neural
// Networks for Efficient Integer-Arithmetic-Only Inference"): a QDQ graph (docs/quantized-graph.md) compiled
// into packed int8 layers (IntegerModel.Compile.cs) and run with uint8 activations, int32 accumulators and
// fixed-point requantization (Kernels/Int8Gemm/QGemm, Kernels/Int8Gemm/Requantize). Floats appear only at the two ends: the
// input is quantized with the first layer's (s, z), the last layer's accumulators are scaled back to float.
using System.Buffers;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>
/// An int8 inference engine for a static-quantized chain of Linear layers; the same function as the QDQ graph
/// run by <c>GraphModule</c> (its float simulation), within one output step per hidden layer. Inference only.
/// </summary>
public sealed partial class IntegerModel : Module
{
    // One compiled Gemm. Hidden layers requantize to the next layer's uint8 input (Multiplier, Shift,
    // OutputZeroPoint, QMin = OutputZeroPoint when a ReLU is fused); the last one scales its int32
    // accumulators by OutputScale[o] = s_x·s_w[o] (and applies a trailing ReLU as acc ≥ 0).
    internal sealed record Layer(string Name, PackedInt8Weights Weight, byte InputZeroPoint, int[] Bias,
        int[] Multiplier, int[] Shift, byte OutputZeroPoint, byte QMin, float[] OutputScale, bool Relu);

    private readonly Layer[] _layers;
    private readonly float _inputScale;
    private readonly byte _inputZeroPoint;
    private readonly long _weightBytes; // int8 weights, one byte each: what every row share reads whole

    private IntegerModel(Layer[] layers, float inputScale, byte inputZeroPoint)
    {
        _layers = layers;
        _inputScale = inputScale;
        _inputZeroPoint = inputZeroPoint;
        _weightBytes = layers.Sum(l => (long)l.Weight.InFeatures * l.Weight.OutFeatures);
        Eval();
    }

    /// <summary>Features per input sample (the first layer's k).</summary>
    public int InFeatures => _layers[0].Weight.InFeatures;

    /// <summary>Features per output sample (the last layer's n).</summary>
    public int OutFeatures => _layers[^1].Weight.OutFeatures;

    /// <summary>The number of compiled Linear layers.</summary>
    public int LayerCount => _layers.Length;

    internal IReadOnlyList<Layer> Layers => _layers;

    /// <summary>
    /// Logits (N, OutFeatures) for a float input whose first dimension is the batch and whose other dimensions
    /// hold <see cref="InFeatures"/> values per sample. Throws in training mode: the model has nothing to train.
    /// </summary>
    public override Tensor Forward(Tensor input) => Run(input, null);

    /// <summary>Forward that also returns the uint8 input of every layer (the quantized input first).</summary>
    internal (Tensor Logits, List<byte[]> Activations) ForwardWithActivations(Tensor input)
    {
        var activations = new List<byte[]>();
        return (Run(input, activations), activations);
    }

    private Tensor Run(Tensor input, List<byte[]>? activations)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (Training)
            throw new CondenseException(
                "an IntegerModel runs inference only (integer weights, no gradients); call Eval(), and train the float or QDQ model instead");
        if (input.Rank < 1 || input.Shape[0] == 0 || input.Size != (long)input.Shape[0] * InFeatures)
            throw new CondenseException(
                $"input of shape {Shape.Format(input.Shape)} does not fit an integer model with {InFeatures} input features per sample");
        int m = input.Shape[0];
        var y = new Tensor(new float[(long)m * OutFeatures], m, OutFeatures);
        int parts = activations is null ? RowParts(m) : 1;
        if (parts <= 1) RunRows(input.Data, 0, m, y.Data, activations);
        else WorkerPool.Run(new RowsJob(this, input.Data, y.Data, m, parts), parts);
        return y;
    }

    // Threads that each run every layer on a share of the rows: one parallel call per pass instead of one per layer (the
    // quantization, each product), and each thread's activations stay in its own cache from layer to layer. Integer sums are
    // exact, so any split gives the same bits. Only where each share is large enough and the weights, which every thread then
    // reads whole, are small: LeNet-300-100 int8 at batch 256 (265 KB of weights).
    private int RowParts(int m) => _weightBytes <= RowSplitWeightBytes ? Math.Min(Cpu.Threads, m / RowSplitMinRows) : 1;

    private const long RowSplitWeightBytes = 2 << 20;
    private const int RowSplitMinRows = 64;

    // Rows [row0, row0 + rows) of the input through every layer into the same rows of output.
    private void RunRows(float[] input, int row0, int rows, float[] output, List<byte[]>? activations)
    {
        var pool = ArrayPool<byte>.Shared;
        byte[] x = pool.Rent(rows * InFeatures);
        try
        {
            var xs = x.AsSpan(0, rows * InFeatures);
            QuantizeLinear.QuantizeToByteParallel(input.AsSpan(row0 * InFeatures, rows * InFeatures), _inputScale, _inputZeroPoint, xs);
            activations?.Add(xs.ToArray());
            for (int l = 0; l < _layers.Length - 1; l++)
            {
                var layer = _layers[l];
                int n = layer.Weight.OutFeatures;
                byte[] y = pool.Rent(rows * n);
                QGemm.LinearForwardRequantized(rows, x.AsSpan(0, rows * layer.Weight.InFeatures), layer.InputZeroPoint, layer.Weight,
                    layer.Bias, layer.Multiplier, layer.Shift, layer.OutputZeroPoint, layer.QMin, byte.MaxValue, y.AsSpan(0, rows * n));
                pool.Return(x);
                x = y;
                activations?.Add(y.AsSpan(0, rows * n).ToArray());
            }
            Output(_layers[^1], rows, x, output.AsSpan(row0 * OutFeatures, rows * OutFeatures));
        }
        finally { pool.Return(x); }
    }

    // The caller's kernel path and int8 dot product (a test may force them on its thread) hold on every part.
    private sealed class RowsJob(IntegerModel model, float[] input, float[] output, int m, int parts) : IParallelJob
    {
        private readonly KernelPath _path = Cpu.Active;
        private readonly Int8Dot _dot = Cpu.ActiveInt8Dot;

        public void Execute(int part)
        {
            using var held = Cpu.Hold(_path, _dot);
            int r0 = (int)((long)m * part / parts), r1 = (int)((long)m * (part + 1) / parts);
            model.RunRows(input, r0, r1 - r0, output, null);
        }
    }

    // The last layer: y[i, o] = acc[i, o] · s_x·s_w[o], in float.
    private static void Output(Layer layer, int m, byte[] x, Span<float> y)
    {
        int n = layer.Weight.OutFeatures;
        int[] acc = ArrayPool<int>.Shared.Rent(m * n);
        try
        {
            QGemm.LinearForward(m, x.AsSpan(0, m * layer.Weight.InFeatures), layer.InputZeroPoint, layer.Weight, layer.Bias, acc.AsSpan(0, m * n));
            var scale = layer.OutputScale;
            for (int i = 0; i < m; i++)
            {
                var row = acc.AsSpan(i * n, n);
                var yRow = y.Slice(i * n, n);
                for (int o = 0; o < n; o++)
                    yRow[o] = (layer.Relu ? Math.Max(row[o], 0) : row[o]) * scale[o];
            }
        }
        finally { ArrayPool<int>.Shared.Return(acc); }
    }

    /// <summary>
    /// What runs a (possibly quantized) model best: the integer engine when <paramref name="model"/>'s graph
    /// compiles to it, else the model itself (float, or the float simulation of its quantization).
    /// <see cref="InferenceEngine.Compile"/> also says which engine and why not.
    /// </summary>
    public static Module Runner(Condense.Graph.GraphModule model) => InferenceEngine.Compile(model).Runner;
}
