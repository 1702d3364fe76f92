// Ops that imported ONNX graphs need beyond the layers Condense builds itself: clip, sqrt, pow, concat and gather
// (N-D transpose is in Ops.Permute.cs). Each has its gradient here; GraphOps maps the ONNX ops onto them.
using System.Numerics.Tensors;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>min(max(x, <paramref name="min"/>), <paramref name="max"/>); the gradient passes where x is inside.</summary>
    public Tensor Clip(float min, float max) => Pointwise(
        (x, y) => { TensorPrimitives.Max(x, min, y); TensorPrimitives.Min(y, max, y); },
        (g, x, _, gx) => { for (int i = 0; i < g.Length; i++) gx[i] = x[i] >= min && x[i] <= max ? g[i] : 0f; });

    /// <summary>√x; the derivative is 1 / (2√x).</summary>
    public Tensor Sqrt() => Pointwise(TensorPrimitives.Sqrt,
        (g, _, y, gx) => { for (int i = 0; i < g.Length; i++) gx[i] = g[i] * 0.5f / y[i]; });

    /// <summary>x^p for a constant exponent; the derivative is p·x^(p−1).</summary>
    public Tensor Pow(float p) => Pointwise(
        (x, y) =>
        {
            // x² and x³ as products, vectorized, as ONNX Runtime's Pow computes them (GPT-2's GELU cubes its FFN activations).
            if (p is 2f or 3f) TensorPrimitives.Multiply(x, x, y);
            if (p == 3f) TensorPrimitives.Multiply(y, x, y);
            if (p is 2f or 3f) return;
            for (int i = 0; i < x.Length; i++) y[i] = MathF.Pow(x[i], p);
        },
        (g, x, _, gx) => { for (int i = 0; i < g.Length; i++) gx[i] = g[i] * p * MathF.Pow(x[i], p - 1f); });

    /// <summary>The error function (Abramowitz &amp; Stegun 7.1.26, |error| ≤ 1.5e−7); the derivative is 2/√π · e^(−x²).</summary>
    public Tensor Erf()
    {
        var y = Uninitialized(Shape);
        Kernels.Transformer.ErfKernel.Apply(Data, y.Data);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            for (int i = 0; i < gx.Length; i++) gx[i] = g.Data[i] * 1.1283791671f * MathF.Exp(-Data[i] * Data[i]);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>Joins tensors along <paramref name="axis"/>; the others must agree (ONNX Concat).</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> parts, int axis)
    {
        var first = parts[0];
        if (axis < 0) axis += first.Rank;
        foreach (var p in parts)
            if (p.Rank != first.Rank || Enumerable.Range(0, p.Rank).Any(d => d != axis && p.Shape[d] != first.Shape[d]))
                throw new CondenseException($"Concat: shapes {string.Join(", ", parts.Select(q => Tensors.Shape.Format(q.Shape)))} differ outside axis {axis}");
        int outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= first.Shape[d];
        for (int d = axis + 1; d < first.Rank; d++) inner *= first.Shape[d];
        int total = parts.Sum(p => p.Shape[axis]);
        var shape = (int[])first.Shape.Clone();
        shape[axis] = total;
        if (parts.Any(p => p.DataType != DataType.Float32)) return ConcatTyped(parts, shape, outer, inner, total, axis);
        var y = Uninitialized(shape);
        // y is (outer, total·inner): part j fills columns [start_j·inner, (start_j + n_j)·inner) of each row.
        int start = 0;
        foreach (var p in parts)
        {
            int width = p.Shape[axis] * inner;
            for (int o = 0; o < outer; o++) Array.Copy(p.Data, o * width, y.Data, o * total * inner + start * inner, width);
            start += p.Shape[axis];
        }
        return Record(y, g =>
        {
            int at = 0;
            foreach (var p in parts)
            {
                int width = p.Shape[axis] * inner;
                var gp = GC.AllocateUninitializedArray<float>(p.Size);
                for (int o = 0; o < outer; o++) Array.Copy(g.Data, o * total * inner + at * inner, gp, o * width, width);
                p.AccumulateGrad(gp);
                at += p.Shape[axis];
            }
        }, [.. parts]);
    }

    /// <summary>Picks entries along <paramref name="axis"/> by integer indices (ONNX Gather; negative indices count from the end).</summary>
    public Tensor Gather(Tensor indices, int axis)
    {
        if (axis < 0) axis += Rank;
        int outer = 1, inner = 1, n = Shape[axis];
        for (int d = 0; d < axis; d++) outer *= Shape[d];
        for (int d = axis + 1; d < Rank; d++) inner *= Shape[d];
        var picks = indices.Data.Select(v =>
        {
            int i = (int)v;
            if (i < 0) i += n;
            // Out of an embedding table, the usual cause is text: a passage past the model's positions or another vocabulary's ids.
            return i >= 0 && i < n ? i : throw new CondenseException($"Gather index {v} out of range for dimension of size {n} "
                + "(if this reads an embedding table: a passage longer than the model's positions, or ids from a larger vocabulary)");
        }).ToArray();
        int[] shape = [.. Shape[..axis], .. indices.Shape, .. Shape[(axis + 1)..]];
        var y = Uninitialized(shape);
        // x is (outer, n, inner), y is (outer, picks, inner).
        for (int o = 0; o < outer; o++)
            for (int k = 0; k < picks.Length; k++)
                Array.Copy(Data, (o * n + picks[k]) * inner, y.Data, (o * picks.Length + k) * inner, inner);
        return Record(y, g =>
        {
            var gx = new float[Size];
            for (int o = 0; o < outer; o++)
                for (int k = 0; k < picks.Length; k++)
                    TensorPrimitives.Add(gx.AsSpan((o * n + picks[k]) * inner, inner),
                        g.Data.AsSpan((o * picks.Length + k) * inner, inner), gx.AsSpan((o * n + picks[k]) * inner, inner));
            AccumulateGrad(gx);
        }, this);
    }
}
