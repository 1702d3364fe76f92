// DynamicQuantizeMatMul (ONNX Runtime's com.microsoft contrib op): Y = A × DequantizeLinear(B, b_scale, b_zero_point)
// + bias, A quantized dynamically per tensor to uint8 first — the fused form of DynamicQuantizeLinear → DequantizeLinear
// → MatMul that InferenceEngine.Compile makes of dynamic int8 graphs, run on the integer GEMM
// (Kernels/Transformer/DynamicQuantizedMatMul). B is int8 codes (k × n) with one scale or one per column and int8 zero
// points (one, or one per column; ONNX Runtime's uint8 weights are stored as W − 128 with z − 128).
// Inference only: the integer product has no gradient (the QDQ graph it came from trains).
using System.Runtime.CompilerServices;
using Condense.Kernels.Transformer;
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // The packed weight of each B (by its code array) and the scale array it was packed with.
    private static readonly ConditionalWeakTable<float[], PackedDynamicWeight> s_dynamicWeights = [];

    private sealed record PackedDynamicWeight(float[] Scales, float[] Zeros, DynamicQuantizedWeight Weight);

    internal static Tensor DynamicQuantizeMatMul(Node node, Tensor?[] inputs)
    {
        var a = Required(node, inputs, 0);
        var b = Required(node, inputs, 1);
        var scale = Required(node, inputs, 2);
        var zeroPoint = Optional(inputs, 3);
        var bias = Optional(inputs, 4);
        string where = $"node '{node.Name}' ({node.OpType})";
        if (a.RequiresGrad && Autograd.GradMode.Enabled) throw new CondenseException($"{where} runs inference only; train the QDQ graph instead");
        if (b.Rank != 2 || a.Rank < 1 || a.Shape[^1] != b.Shape[0])
            throw new CondenseException($"{where}: A {Shape.Format(a.Shape)} does not multiply B {Shape.Format(b.Shape)}");
        int k = b.Shape[0], n = b.Shape[1];
        if (scale.Size != 1 && scale.Size != n) throw new CondenseException($"{where}: {scale.Size} weight scales for {n} columns");
        if (zeroPoint is not null && (zeroPoint.Size != 1 && zeroPoint.Size != n || zeroPoint.Data.Any(z => z != MathF.Round(z) || z is < -128f or > 127f)))
            throw new CondenseException($"{where}: {zeroPoint.Size} weight zero points for {n} columns, or one outside int8");
        if (bias is not null && bias.Size != n) throw new CondenseException($"{where}: a bias of {bias.Size} values for {n} columns");
        var zeros = zeroPoint?.Data ?? Array.Empty<float>();
        var entry = s_dynamicWeights.TryGetValue(b.Data, out var cached) && ReferenceEquals(cached.Scales, scale.Data) && ReferenceEquals(cached.Zeros, zeros)
            ? cached : new PackedDynamicWeight(scale.Data, zeros, new DynamicQuantizedWeight(b.Data, k, n, scale.Data, zeros));
        s_dynamicWeights.AddOrUpdate(b.Data, entry);
        // QuantizeMatMul: x's fixed uint8 quantization (a static QDQ graph's QuantizeLinear) instead of this batch's.
        (float, byte)? fixedInput = null;
        if (Optional(inputs, 5) is { } inputScale)
        {
            float sx = inputScale.Data[0], zx = Optional(inputs, 6)?.Data[0] ?? 0f;
            if (!(sx > 0f) || !float.IsFinite(sx) || zx is < 0f or > 255f || zx != MathF.Round(zx))
                throw new CondenseException($"{where}: the input's scale {sx} and zero point {zx} are not a uint8 quantization");
            fixedInput = (sx, (byte)zx);
        }
        var y = Tensor.Uninitialized([.. a.Shape[..^1], n]);
        DynamicQuantizedMatMul.Multiply(a.Data, a.Size / Math.Max(k, 1), entry.Weight, bias?.Data, y.Data, fixedInput);
        return y;
    }
}
