// The integer-only engine for static-quantized convolutional networks (Jacob et al. 2018): a QDQ graph
// (docs/quantized-graph.md) of Conv and Gemm layers with ReLU, MaxPool and Flatten between them, compiled
// (IntegerConvModel.Compile.cs) into int8 steps that keep the activations uint8 from the first
// QuantizeLinear to the last layer's int32 accumulators. Images stay NCHW, the float graph's layout, so
// Flatten and the recorded activations need no reordering and a convolution (Kernels/Int8Conv/QConv2d, direct) reads
// and writes whole image rows. MaxPool runs on the uint8 codes: max commutes with the monotone dequantization, so a layer
// requantizes straight to the (s, z) of the QuantizeLinear after the pooling. MLPs go to IntegerModel.
using System.Buffers;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>
/// An int8 inference engine for a static-quantized chain of Conv / Linear layers with ReLU, MaxPool and
/// Flatten between them; the QDQ graph's function (its float simulation) within one output step per hidden
/// layer. Inference only.
/// </summary>
public sealed partial class IntegerConvModel : Module
{
    internal abstract record Step;

    // One Conv or Gemm. Hidden layers requantize to the next layer's input (s, z) with ReLU fused as
    // qmin = z_y; the last one scales its accumulators by OutputScale[o] = s_x·s_w[o]. InputValue names
    // the graph value (a QuantizeLinear output) this layer's uint8 input equals.
    internal sealed record LayerStep(string Name, string InputValue, Conv2dOptions? Conv, int KernelH, int KernelW,
        PackedInt8Weights Weight, byte InputZeroPoint, int[] Bias, int[] Multiplier, int[] Shift,
        byte OutputZeroPoint, byte QMin, float[] OutputScale, bool Relu, bool Last) : Step;

    internal sealed record MaxPoolStep(string Name, PoolWindow Window) : Step;

    // Channels-last image → flat rows in the float graph's (C, H, W) order.
    internal sealed record FlattenStep(string Name) : Step;

    private readonly Step[] _steps;
    private readonly int[] _sampleShape;   // the first layer's input: (C, H, W) or (features)
    private readonly float _inputScale;
    private readonly byte _inputZeroPoint;

    private IntegerConvModel(Step[] steps, int[] sampleShape, float inputScale, byte inputZeroPoint)
    {
        (_steps, _sampleShape, _inputScale, _inputZeroPoint) = (steps, sampleShape, inputScale, inputZeroPoint);
        Eval();
    }

    /// <summary>The number of compiled Conv and Linear layers.</summary>
    public int LayerCount => _steps.OfType<LayerStep>().Count();

    internal IReadOnlyList<Step> Steps => _steps;

    /// <summary>Logits for a float input (N, …) holding one first-layer input per sample. Throws in training mode.</summary>
    public override Tensor Forward(Tensor input) => Run(input, null);

    /// <summary>Forward that also returns each layer's uint8 input in the float graph's layout, keyed by the graph value it equals.</summary>
    internal (Tensor Logits, Dictionary<string, byte[]> Activations) ForwardWithActivations(Tensor input)
    {
        var activations = new Dictionary<string, byte[]>();
        return (Run(input, activations), activations);
    }

    // Where the activations are between steps: an NCHW image (C, H, W) or flat rows of Features.
    private record struct State(bool Image, int C, int H, int W)
    {
        public readonly int Size => Image ? C * H * W : C;
    }

    private Tensor Run(Tensor input, Dictionary<string, byte[]>? activations)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (Training)
            throw new CondenseException(
                "an IntegerConvModel runs inference only (integer weights, no gradients); call Eval(), and train the float or QDQ model instead");
        int sample = _sampleShape.Aggregate(1, (a, b) => a * b);
        if (input.Rank < 1 || input.Shape[0] == 0 || input.Size != (long)input.Shape[0] * sample)
            throw new CondenseException(
                $"input of shape {Shape.Format(input.Shape)} does not fit an integer model with input {Shape.Format(_sampleShape)} per sample");
        int n = input.Shape[0];
        var pool = ArrayPool<byte>.Shared;
        var state = _sampleShape.Length == 3 ? new State(true, _sampleShape[0], _sampleShape[1], _sampleShape[2]) : new State(false, sample, 1, 1);
        byte[] x = pool.Rent(n * sample);
        try
        {
            QuantizeLinear.QuantizeToByte(input.Data, _inputScale, _inputZeroPoint, x.AsSpan(0, n * sample));
            foreach (var step in _steps)
            {
                switch (step)
                {
                    case LayerStep layer when layer.Last:
                        Record(activations, layer, x, n, state);
                        return Output(layer, x, n, state, _steps[^1] is FlattenStep);
                    case LayerStep layer:
                        Record(activations, layer, x, n, state);
                        (x, state) = Hidden(pool, layer, x, n, state);
                        break;
                    case MaxPoolStep max:
                        var (oh, ow) = max.Window.OutputSize(state.H, state.W);
                        var pooled = pool.Rent(n * state.C * oh * ow);
                        QConv2d.MaxPool(x.AsSpan(0, n * state.Size), n, state.H, state.W, state.C, max.Window, pooled.AsSpan(0, n * state.C * oh * ow));
                        pool.Return(x);
                        (x, state) = (pooled, state with { H = oh, W = ow });
                        break;
                    case FlattenStep:
                        state = new State(false, state.Size, 1, 1);
                        break;
                }
            }
            throw new InvalidOperationException("the compiled steps end without a last layer");
        }
        finally { pool.Return(x); }
    }

    private static (byte[], State) Hidden(ArrayPool<byte> pool, LayerStep layer, byte[] x, int n, State state)
    {
        if (layer.Conv is { } options)
        {
            var g = new Conv2dGeometry(n, state.C, state.H, state.W, layer.Weight.OutFeatures, layer.KernelH, layer.KernelW, options);
            int size = n * g.OutChannels * g.OutPixels;
            byte[] y = pool.Rent(size);
            QConv2d.ForwardRequantized(g, x.AsSpan(0, n * state.Size), layer.InputZeroPoint, layer.Weight, layer.Bias,
                layer.Multiplier, layer.Shift, layer.OutputZeroPoint, layer.QMin, byte.MaxValue, y.AsSpan(0, size));
            pool.Return(x);
            return (y, new State(true, g.OutChannels, g.OutHeight, g.OutWidth));
        }
        int outFeatures = layer.Weight.OutFeatures;
        byte[] rows = pool.Rent(n * outFeatures);
        QGemm.LinearForwardRequantized(n, x.AsSpan(0, n * state.Size), layer.InputZeroPoint, layer.Weight, layer.Bias,
            layer.Multiplier, layer.Shift, layer.OutputZeroPoint, layer.QMin, byte.MaxValue, rows.AsSpan(0, n * outFeatures));
        pool.Return(x);
        return (rows, new State(false, outFeatures, 1, 1));
    }

    // The last layer: y = acc · s_x·s_w[o] (ReLU as acc ≥ 0), in float; a conv's output is NCHW already.
    private static Tensor Output(LayerStep layer, byte[] x, int n, State state, bool flatten)
    {
        int m = layer.Weight.OutFeatures;
        Conv2dGeometry? g = layer.Conv is { } options ? new Conv2dGeometry(n, state.C, state.H, state.W, m, layer.KernelH, layer.KernelW, options) : null;
        int pixels = g?.OutPixels ?? 1;
        int[] acc = ArrayPool<int>.Shared.Rent(n * pixels * m);
        try
        {
            var accs = acc.AsSpan(0, n * pixels * m);
            if (g is not null) QConv2d.Forward(g, x.AsSpan(0, n * state.Size), layer.InputZeroPoint, layer.Weight, layer.Bias, accs);
            else QGemm.LinearForward(n, x.AsSpan(0, n * state.Size), layer.InputZeroPoint, layer.Weight, layer.Bias, accs);
            var y = new float[n * pixels * m];
            for (int i = 0; i < y.Length; i++)
            {
                int v = accs[i];
                y[i] = (layer.Relu ? Math.Max(v, 0) : v) * layer.OutputScale[i / pixels % m];
            }
            if (g is null) return new Tensor(y, [n, m]);
            return flatten ? new Tensor(y, [n, m * pixels]) : new Tensor(y, [n, m, g.OutHeight, g.OutWidth]);
        }
        finally { ArrayPool<int>.Shared.Return(acc); }
    }

    private static void Record(Dictionary<string, byte[]>? activations, LayerStep layer, byte[] x, int n, State state)
    {
        if (activations is null) return;
        activations[layer.InputValue] = x.AsSpan(0, n * state.Size).ToArray();
    }
}
