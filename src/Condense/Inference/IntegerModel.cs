// The integer-only engine for static-quantized MLPs (Jacob et al. 2018, "Quantization and Training of Neural
// Networks for Efficient Integer-Arithmetic-Only Inference"): a QDQ graph (docs/quantized-graph.md) compiled
// into packed int8 layers (IntegerModel.Compile.cs) and run with uint8 activations, int32 accumulators and
// fixed-point requantization (Kernels/Int8Gemm/QGemm, Kernels/Int8Gemm/Requantize). Floats appear only at the two ends: the
// input is quantized with the first layer's (s, z), the last layer's accumulators are scaled back to float.
using System.Buffers;
using Condense.Kernels.Int8Gemm;
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

    private IntegerModel(Layer[] layers, float inputScale, byte inputZeroPoint)
    {
        _layers = layers;
        _inputScale = inputScale;
        _inputZeroPoint = inputZeroPoint;
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
        var pool = ArrayPool<byte>.Shared;
        byte[] x = pool.Rent(m * InFeatures);
        try
        {
            var xs = x.AsSpan(0, m * InFeatures);
            QuantizeLinear.QuantizeToByteParallel(input.Data, _inputScale, _inputZeroPoint, xs);
            activations?.Add(xs.ToArray());
            for (int l = 0; l < _layers.Length - 1; l++)
            {
                var layer = _layers[l];
                int n = layer.Weight.OutFeatures;
                byte[] y = pool.Rent(m * n);
                QGemm.LinearForwardRequantized(m, x.AsSpan(0, m * layer.Weight.InFeatures), layer.InputZeroPoint, layer.Weight,
                    layer.Bias, layer.Multiplier, layer.Shift, layer.OutputZeroPoint, layer.QMin, byte.MaxValue, y.AsSpan(0, m * n));
                pool.Return(x);
                x = y;
                activations?.Add(y.AsSpan(0, m * n).ToArray());
            }
            return Output(_layers[^1], m, x);
        }
        finally { pool.Return(x); }
    }

    // The last layer: y[i, o] = acc[i, o] · s_x·s_w[o], in float.
    private static Tensor Output(Layer layer, int m, byte[] x)
    {
        int n = layer.Weight.OutFeatures;
        int[] acc = ArrayPool<int>.Shared.Rent(m * n);
        try
        {
            QGemm.LinearForward(m, x.AsSpan(0, m * layer.Weight.InFeatures), layer.InputZeroPoint, layer.Weight, layer.Bias, acc.AsSpan(0, m * n));
            var y = Tensor.Zeros(m, n);
            var scale = layer.OutputScale;
            for (int i = 0; i < m; i++)
            {
                var row = acc.AsSpan(i * n, n);
                var yRow = y.Data.AsSpan(i * n, n);
                for (int o = 0; o < n; o++)
                    yRow[o] = (layer.Relu ? Math.Max(row[o], 0) : row[o]) * scale[o];
            }
            return y;
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
