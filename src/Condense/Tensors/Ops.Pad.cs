// ONNX Pad: each dimension grows by pads[d] in front and pads[rank + d] behind (negative values crop).
// New elements are a constant, the mirror image without the edge (reflect), the edge repeated (edge)
// or the tensor wrapped around (wrap). Every output element is either the constant or a copy of one
// input element, so the gradient adds each output gradient into the element it was copied from. Zero pads return the
// tensor itself; constant padding of float32 at inference copies rows.
namespace Condense.Tensors;

/// <summary>How <see cref="Tensor.Pad"/> fills the new elements (ONNX Pad's mode attribute).</summary>
public enum PadMode
{
    /// <summary>A constant value.</summary>
    Constant,
    /// <summary>The mirror image, not repeating the edge: [1, 2, 3] → [3, 2, 1, 2, 3, 2, 1].</summary>
    Reflect,
    /// <summary>The edge value repeated: [1, 2, 3] → [1, 1, 1, 2, 3, 3, 3].</summary>
    Edge,
    /// <summary>The tensor wrapped around: [1, 2, 3] → [2, 3, 1, 2, 3, 1, 2].</summary>
    Wrap,
}

public partial class Tensor
{
    /// <summary>Pads (or, with negative amounts, crops) every dimension; <paramref name="pads"/> holds the
    /// amounts in front of each dimension, then behind each.</summary>
    public Tensor Pad(int[] pads, PadMode mode = PadMode.Constant, float value = 0f)
    {
        if (pads.Length != 2 * Rank)
            throw new CondenseException($"Pad needs {2 * Rank} pad amounts for a tensor of shape {Tensors.Shape.Format(Shape)}, got {pads.Length}");
        var shape = new int[Rank];
        for (int d = 0; d < Rank; d++)
        {
            shape[d] = Shape[d] + pads[d] + pads[Rank + d];
            if (shape[d] < 0) throw new CondenseException($"Pad amounts [{string.Join(", ", pads)}] crop more than the shape {Tensors.Shape.Format(Shape)}");
            if (mode != PadMode.Constant && shape[d] > Shape[d] && Shape[d] == 0)
                throw new CondenseException($"Pad mode {mode} cannot grow an empty dimension of {Tensors.Shape.Format(Shape)}");
        }
        if (pads.All(p => p == 0)) return this;
        if (DataType == DataType.Float32 && mode == PadMode.Constant && pads.All(p => p >= 0) && !(Autograd.GradMode.Enabled && RequiresGrad))
            return PadRows(pads, shape, value);
        var source = SourceIndices(pads, shape, mode);
        if (DataType != DataType.Float32)
        {
            // Other types: one Take over the values followed by the constant, which −1 sources read.
            var withFill = Concat([View([Size]), TypedOps.Cast(Scalar(value), DataType).View([1])], 0);
            return withFill.Take(Array.ConvertAll(source, j => j >= 0 ? j : Size), shape);
        }
        var y = Uninitialized(shape);
        for (int j = 0; j < source.Length; j++) y.Data[j] = source[j] >= 0 ? Data[source[j]] : value;
        return Record(y, g =>
        {
            var gx = new float[Size];
            for (int j = 0; j < source.Length; j++) if (source[j] >= 0) gx[source[j]] += g.Data[j];
            AccumulateGrad(gx);
        }, this);
    }

    // Constant padding of float32 without a gradient: the constant everywhere, then each innermost row of the input copied
    // to its place (Swin's window padding, zero-filled images) — no index map.
    private Tensor PadRows(int[] pads, int[] shape, float value)
    {
        var y = Uninitialized(shape);
        y.Data.AsSpan().Fill(value);
        if (Size == 0) return y;
        var outStrides = Tensors.Shape.Strides(shape);
        int offset = 0, width = Shape[^1];
        for (int d = 0; d < Rank; d++) offset += pads[d] * outStrides[d];
        var rows = IndexMaps.Walk(Shape[..^1], outStrides[..^1], offset);
        for (int r = 0; r < rows.Length; r++) Array.Copy(Data, r * width, y.Data, rows[r], width);
        return y;
    }

    // For every output element, the flat index of the input element it copies, or −1 for the constant.
    private int[] SourceIndices(int[] pads, int[] outShape, PadMode mode)
    {
        var strides = Tensors.Shape.Strides(Shape);
        var source = new int[Tensors.Shape.Size(outShape)];
        var index = new int[Rank];
        for (int j = 0; j < source.Length; j++)
        {
            int flat = 0;
            for (int d = 0; d < Rank && flat >= 0; d++)
            {
                int i = index[d] - pads[d], n = Shape[d];
                if (i < 0 || i >= n)
                    i = mode switch
                    {
                        PadMode.Constant => -1,
                        PadMode.Edge => Math.Clamp(i, 0, n - 1),
                        PadMode.Wrap => ((i % n) + n) % n,
                        _ => Reflect(i, n),
                    };
                flat = i < 0 ? -1 : flat + i * strides[d];
            }
            source[j] = flat;
            for (int d = Rank - 1; d >= 0; d--)
            {
                if (++index[d] < outShape[d]) break;
                index[d] = 0;
            }
        }
        return source;
    }

    // Mirror index without repeating the edge: period 2(n − 1).
    private static int Reflect(int i, int n)
    {
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        i = ((i % period) + period) % period;
        return i < n ? i : period - i;
    }
}
