// Scatter for every element type (ONNX ScatterElements and ScatterND): a copy of the data with each update written
// into its target element, in order, either replacing it or combined with it (add, mul, max, min). Replacing is data
// movement: Take over the data and the updates together, so float32 gets its gradient from Take. Combining runs in
// the type like ONNX Runtime (each step wrapped or rounded to the type); float32 add has its gradient here.
using Condense.Autograd;

namespace Condense.Tensors;

/// <summary>How a scatter combines an update with the element it targets (ONNX's reduction attribute).</summary>
public enum ScatterReduction
{
    /// <summary>The update replaces the element (a later update to the same element wins).</summary>
    None,
    /// <summary>Sum.</summary>
    Add,
    /// <summary>Product.</summary>
    Mul,
    /// <summary>Maximum.</summary>
    Max,
    /// <summary>Minimum.</summary>
    Min,
}

public partial class Tensor
{
    /// <summary>
    /// A copy of this tensor with <paramref name="updates"/>[i] (same type) written into flat element
    /// <paramref name="targets"/>[i], for i in order, as <paramref name="reduction"/> says. Float32 has gradients for
    /// None and Add; Mul, Max and Min refuse to record one.
    /// </summary>
    public Tensor Scatter(Tensor updates, int[] targets, ScatterReduction reduction)
    {
        TypedOps.CheckSameType(nameof(Scatter), this, updates);
        if (targets.Length != updates.Size) throw new ArgumentException($"{targets.Length} targets for {updates.Size} updates");
        if (reduction == ScatterReduction.None)
        {
            var source = Identity(Size);
            for (int i = 0; i < targets.Length; i++) source[targets[i]] = Size + i;
            return Concat([Reshape(Size), updates.Reshape(updates.Size)], 0).Take(source, Shape);
        }
        var y = Clone();
        switch (DataType.Storage())
        {
            case TensorStorage.Single:
                var (fy, fu) = (y._floats!, updates._floats!);
                for (int i = 0; i < targets.Length; i++) fy[targets[i]] = DataType.Round(Combine(fy[targets[i]], fu[i], reduction));
                break;
            case TensorStorage.Double:
                var (dy, du) = (y._doubles!, updates._doubles!);
                for (int i = 0; i < targets.Length; i++) dy[targets[i]] = Combine(dy[targets[i]], du[i], reduction);
                break;
            default:
                var (ly, lu) = (y._longs!, updates._longs!);
                for (int i = 0; i < targets.Length; i++) ly[targets[i]] = DataType.Wrap(CombineIntegers(ly[targets[i]], lu[i], reduction, DataType));
                break;
        }
        if (DataType != DataType.Float32 || !GradMode.Enabled || !(RequiresGrad || updates.RequiresGrad)) return y;
        if (reduction != ScatterReduction.Add)
            throw new CondenseException($"{nameof(Scatter)}: the {reduction.ToString().ToLowerInvariant()} reduction has no gradient; only none and add train");
        return Record(y, g =>
        {
            var gy = g.Data;
            AccumulateGrad((float[])gy.Clone());
            var gu = new float[targets.Length];
            for (int i = 0; i < targets.Length; i++) gu[i] = gy[targets[i]];
            updates.AccumulateGrad(gu);
        }, this, updates);
    }

    // ONNX Runtime's reductions: max keeps a unless a < b, min keeps a unless b < a (std::max / std::min).
    private static T Combine<T>(T a, T b, ScatterReduction reduction) where T : System.Numerics.INumber<T> => reduction switch
    {
        ScatterReduction.Add => a + b,
        ScatterReduction.Mul => a * b,
        ScatterReduction.Max => a < b ? b : a,
        _ => b < a ? b : a,
    };

    private static long CombineIntegers(long a, long b, ScatterReduction reduction, DataType type) =>
        type == DataType.UInt64 && reduction is ScatterReduction.Max or ScatterReduction.Min
            ? (long)Combine((ulong)a, (ulong)b, reduction)
            : Combine(a, b, reduction);
}
