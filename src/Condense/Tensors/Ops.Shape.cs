// Shape ops. Reshape and Flatten share the data buffer (tensors are contiguous), so they cost nothing;
// their gradient is the output gradient viewed in the input's shape.
namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>The same data viewed with a new shape; one dimension may be −1 (inferred).</summary>
    public Tensor Reshape(params int[] shape)
    {
        shape = (int[])shape.Clone();
        int infer = Array.IndexOf(shape, -1);
        if (infer >= 0)
        {
            int known = 1;
            for (int i = 0; i < shape.Length; i++) if (i != infer) known *= shape[i];
            if (known == 0 || Size % known != 0)
                throw new CondenseException($"cannot reshape {Tensors.Shape.Format(Shape)} to {Tensors.Shape.Format(shape)}");
            shape[infer] = Size / known;
        }
        if (Tensors.Shape.Size(shape) != Size)
            throw new CondenseException($"cannot reshape {Tensors.Shape.Format(Shape)} ({Size} elements) to {Tensors.Shape.Format(shape)}");
        if (DataType != DataType.Float32) return View(shape);
        var y = new Tensor(Data, shape);
        return Record(y, g => AccumulateGrad((float[])g.Data.Clone()), this);
    }

    /// <summary>Collapses dimensions from <paramref name="axis"/> on into one (ONNX Flatten: 2-D result).</summary>
    public Tensor Flatten(int axis = 1)
    {
        if (axis < 0) axis += Rank;
        if (axis < 0 || axis > Rank) throw new CondenseException($"Flatten axis {axis} out of range for rank {Rank}");
        // The inner size from the dimensions themselves: an empty batch (0, 40, 1, 1) flattens to (0, 40), not (0, 0).
        int outer = 1, inner = 1;
        for (int i = 0; i < axis; i++) outer *= Shape[i];
        for (int i = axis; i < Rank; i++) inner *= Shape[i];
        return Reshape(outer, inner);
    }

    /// <summary>The transpose of a 2-D tensor.</summary>
    public Tensor Transpose()
    {
        if (Rank != 2) throw new CondenseException($"Transpose() needs a 2-D tensor, got {Tensors.Shape.Format(Shape)}");
        int rows = Shape[0], cols = Shape[1];
        var y = Uninitialized(cols, rows);
        Transpose2D(Data, y.Data, rows, cols);
        return Record(y, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            Transpose2D(g.Data, gx, cols, rows);
            AccumulateGrad(gx);
        }, this);
    }
}
