// Running one compiled step of the integer conv engine on a batch of n samples. Integer steps call the int8 kernels
// (Kernels/Int8Conv: QConv2d, QAdd, max pooling on codes; Kernels/Int8Gemm: QGemm, QuantizeLinear). A layer or Add whose
// output stays float computes exactly the float simulation's expression: acc · s_x·s_w[o] for a layer (its int32 sum is
// exact), (a − z_a)·s_a + (b − z_b)·s_b for an Add, the DequantizeLinear formula (q − z)·s; float ops of the graph run
// through GraphOps, as GraphModule runs them.
using System.Buffers;
using System.Runtime.Intrinsics;
using Condense.Graph;
using Condense.Kernels.Conv;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    private static readonly OpContext InferenceContext = new(false, new Rng(0));

    private void Execute(Step step, Buffers b, int n)
    {
        switch (step)
        {
            case QuantizeStep q:
                QuantizeLinear.QuantizeToByteParallel(b.Floats[q.Input].AsSpan(0, n * _slots[q.Input].Size), q.Scale, q.ZeroPoint,
                    b.Codes[q.Output].AsSpan(0, n * _slots[q.Output].Size));
                break;
            case DequantizeStep d:
                var codes = b.Codes[d.Input]!;
                var floats = b.Floats[d.Output]!;
                for (int i = 0; i < n * d.Size; i++) floats[i] = QuantizeLinear.Dequantize(codes[i], d.Scale, d.ZeroPoint);
                break;
            case LayerStep layer:
                Layer(layer, b, n);
                break;
            case AddStep add:
                Add(add, b, n);
                break;
            case MaxPoolStep max:
                var (c, h, w) = (max.InputShape[0], max.InputShape[1], max.InputShape[2]);
                if (max.ChannelsLast)
                    QConv2d.MaxPoolChannelsLast(b.Codes[max.Input].AsSpan(0, n * c * h * w), n, h, w, c, max.Window,
                        b.Codes[max.Output].AsSpan(0, n * _slots[max.Output].Size));
                else
                    QConv2d.MaxPool(b.Codes[max.Input].AsSpan(0, n * c * h * w), n, h, w, c, max.Window,
                        b.Codes[max.Output].AsSpan(0, n * _slots[max.Output].Size));
                break;
            case MeanStep mean:
                Mean(b.Floats[mean.Input]!, b.Floats[mean.Output]!, n * mean.Planes, mean.Pixels);
                break;
            case LayoutStep l:
                var from = b.Codes[l.Input].AsSpan(0, n * l.Channels * l.Pixels);
                var to = b.Codes[l.Output].AsSpan(0, n * l.Channels * l.Pixels);
                if (l.ToChannelsLast) ChannelsLast.FromPlanar(from, n, l.Channels, l.Pixels, to);
                else ChannelsLast.ToPlanar(from, n, l.Channels, l.Pixels, to);
                break;
            case RequantizeStep r:
                Requantize(r, b, n);
                break;
            case ChannelAffineStep t:
                ChannelAffines(t, b, n);
                break;
            case AveragePoolStep pool:
                AveragePool(pool, b, n);
                break;
            case FloatNodeStep f:
                var inputs = new Tensor?[f.Fed.Length];
                for (int i = 0; i < inputs.Length; i++)
                {
                    if (f.Fed[i] < 0) { inputs[i] = f.Constants[i]; continue; }
                    int input = f.Inputs[f.Fed[i]], size = _slots[input].Size;
                    inputs[i] = new Tensor(b.Floats[input].AsSpan(0, n * size).ToArray(), [n, .. f.InputShapes[f.Fed[i]]]);
                }
                var result = GraphOps.Run(f.Node, inputs, InferenceContext)[0];
                if (result.Size != n * _slots[f.Output].Size)
                    throw new InvalidOperationException($"'{f.Node.Name}' gave {Shape.Format(result.Shape)}, not {_slots[f.Output].Size} values per sample");
                result.Data.AsSpan(0, result.Size).CopyTo(b.Floats[f.Output]);
                break;
        }
    }

    // A layer; with `add`, the residual Add it runs on its output rows (written to the Add's buffer instead of its own).
    private void Layer(LayerStep layer, Buffers b, int n, AddStep? add = null)
    {
        var x = b.Codes[layer.Input].AsSpan(0, n * _slots[layer.Input].Size);
        int m = layer.OutFeatures, size = n * _slots[layer.Output].Size;
        Conv2dGeometry? g = layer.Conv is { } options
            ? new Conv2dGeometry(n, layer.InputShape[0], layer.InputShape[1], layer.InputShape[2], m, layer.KernelH, layer.KernelW, options)
            : null;
        if (layer.Requantized)
        {
            var y = b.Codes[layer.Output].AsSpan(0, size);
            if (g is not null && layer.Depthwise is { } depthwise)
            {
                if (layer.ChannelsLast)
                    QDepthwiseConv2d.ForwardChannelsLast(g, x, layer.InputZeroPoint, depthwise, layer.Bias, layer.Multiplier, layer.Shift,
                        layer.OutputZeroPoint, layer.QMin, layer.QMax, y);
                else
                    QDepthwiseConv2d.ForwardRequantized(g, x, layer.InputZeroPoint, depthwise, layer.Bias, layer.Multiplier, layer.Shift,
                        layer.OutputZeroPoint, layer.QMin, layer.QMax, y);
            }
            else if (g is not null && add is not null)
            {
                bool first = add.A == layer.Output;
                var fused = new FusedAdd(first ? add.ZeroPointA : add.ZeroPointB, first ? add.MultiplierA : add.MultiplierB,
                    first ? add.ZeroPointB : add.ZeroPointA,
                    first ? add.MultiplierB : add.MultiplierA, add.Shift, add.OutputZeroPoint, add.QMin);
                QConv2d.ForwardChannelsLast(g, b.Codes[layer.Input].AsSpan(0, x.Length + CodeSlack), layer.InputZeroPoint, layer.Weight, layer.Bias,
                    layer.Multiplier, layer.Shift, layer.OutputZeroPoint, layer.QMin, layer.QMax, b.Codes[add.Output].AsSpan(0, size), fused,
                    b.Codes[first ? add.B : add.A].AsSpan(0, size));
            }
            else if (g is not null && layer.ChannelsLast)
                QConv2d.ForwardChannelsLast(g, b.Codes[layer.Input].AsSpan(0, x.Length + CodeSlack), layer.InputZeroPoint, layer.Weight, layer.Bias,
                    layer.Multiplier, layer.Shift, layer.OutputZeroPoint, layer.QMin, layer.QMax, y);
            else if (g is not null)
                QConv2d.ForwardRequantized(g, x, layer.InputZeroPoint, layer.Weight, layer.Bias, layer.Multiplier, layer.Shift,
                    layer.OutputZeroPoint, layer.QMin, layer.QMax, y);
            else
                QGemm.LinearForwardRequantized(n, x, layer.InputZeroPoint, layer.Weight, layer.Bias, layer.Multiplier, layer.Shift,
                    layer.OutputZeroPoint, layer.QMin, layer.QMax, y);
            return;
        }
        int[] acc = ArrayPool<int>.Shared.Rent(size);
        try
        {
            var accs = acc.AsSpan(0, size);
            if (g is not null && layer.Depthwise is { } depthwise) QDepthwiseConv2d.Forward(g, x, layer.InputZeroPoint, depthwise, layer.Bias, accs);
            else if (g is not null) QConv2d.Forward(g, x, layer.InputZeroPoint, layer.Weight, layer.Bias, accs);
            else QGemm.LinearForward(n, x, layer.InputZeroPoint, layer.Weight, layer.Bias, accs);
            int pixels = g?.OutPixels ?? 1;
            var output = b.Floats[layer.Output]!;
            var clamp = new VectorClamp(layer.FloatMin, layer.FloatMax);
            for (int row = 0; row < size / pixels; row++)
                ScaleRow(accs.Slice(row * pixels, pixels), layer.OutputScale[row % m], clamp, output.AsSpan(row * pixels, pixels));
        }
        finally { ArrayPool<int>.Shared.Return(acc); }
    }

    private static void Add(AddStep add, Buffers b, int n)
    {
        int count = n * add.Size;
        var x = b.Codes[add.A].AsSpan(0, count);
        var y = b.Codes[add.B].AsSpan(0, count);
        if (add.Requantized)
        {
            QAdd.Forward(x, add.ZeroPointA, add.MultiplierA, y, add.ZeroPointB, add.MultiplierB, add.Shift, add.OutputZeroPoint, add.QMin,
                b.Codes[add.Output].AsSpan(0, count));
            return;
        }
        FloatSum(add, x, y, b.Floats[add.Output]!, n);
    }

    // y[p] = (Σ x[p·pixels + i] in order) / pixels: the float sum and division of the average-pooling kernel's loop.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    // y = clamp(acc · scale) (IEEE maximum and minimum, as Relu and Clip).
    private static void ScaleRow(ReadOnlySpan<int> acc, float scale, VectorClamp clamp, Span<float> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var s = Vector256.Create(scale);
            for (; i <= acc.Length - Vector256<int>.Count; i += Vector256<int>.Count)
                clamp.Apply(Vector256.ConvertToSingle(Vector256.Create(acc.Slice(i, Vector256<int>.Count))) * s).CopyTo(y.Slice(i, Vector256<float>.Count));
        }
        for (; i < acc.Length; i++) y[i] = clamp.Apply(acc[i] * scale);
    }

    internal static void Mean(float[] x, float[] y, int planes, int pixels)
    {
        for (int p = 0; p < planes; p++)
        {
            float sum = 0f;
            for (int i = p * pixels; i < (p + 1) * pixels; i++) sum += x[i];
            y[p] = sum / pixels;
        }
    }

    // The float Add: element (n, j) of the codes lands at (n, j), or for channels-last codes (n, p, c) at (n, c, p) — written
    // in order, the codes (a quarter of the bytes) read across.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void FloatSum(AddStep add, ReadOnlySpan<byte> x, ReadOnlySpan<byte> y, float[] output, int n)
    {
        int channels = add.ChannelsLast?[0] ?? 1, pixels = add.Size / channels;
        var (scaleA, scaleB, zeroA, zeroB, relu) = (add.ScaleA, add.ScaleB, add.ZeroPointA, add.ZeroPointB, add.Relu);
        for (int image = 0, o = 0; image < n; image++)
            for (int c = 0; c < channels; c++)
                for (int p = 0, i = image * add.Size + c; p < pixels; p++, o++, i += channels)
                {
                    float sum = QuantizeLinear.Dequantize(x[i], scaleA, zeroA) + QuantizeLinear.Dequantize(y[i], scaleB, zeroB);
                    output[o] = relu ? Math.Max(sum, 0f) : sum;
                }
    }
}
