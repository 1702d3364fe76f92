// A strided sub-block (Slice, Split): with every step 1 the block is contiguous runs of the source — the innermost axes
// taken whole joined to the last axis taken in part — copied run by run instead of element by element through an index
// map (GPT-2's fused Q/K/V Split and its causal-mask Slices moved ~300 K floats an element at a time). Other steps go
// through Take over IndexMaps.Strided, the definition. Float32 results come from the pass's arena (every element is
// written) and record the gradient: each run's gradient added back.
using System.Numerics.Tensors;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>
    /// The block of <paramref name="count"/>[d] elements every <paramref name="step"/>[d] from <paramref name="start"/>[d]
    /// along each dimension d (the indices already in range). Any element type; float32 records the gradient.
    /// </summary>
    public Tensor Strided(int[] start, int[] step, int[] count)
    {
        if (step.Any(s => s != 1) || Tensors.Shape.Size(count) == 0) return Take(IndexMaps.Strided(Shape, start, step, count), count);
        int outer = Rank, run = 1;
        while (outer > 0 && count[outer - 1] == Shape[outer - 1] && start[outer - 1] == 0) run *= Shape[--outer];
        if (outer > 0) run *= count[--outer];
        // Each run starts at the flat offset of its outer index (the dimensions before `outer`) plus the block's start.
        var strides = Tensors.Shape.Strides(Shape);
        int offset = 0;
        for (int d = 0; d < Rank; d++) offset += start[d] * strides[d];
        var starts = IndexMaps.Walk(count[..outer], strides[..outer], offset);
        var y = DataType == DataType.Float32 ? Uninitialized(count) : Allocate(DataType, count);
        for (int r = 0; r < starts.Length; r++) Array.Copy(Storage, starts[r], y.Storage, r * run, run);
        if (DataType != DataType.Float32) return y;
        return Record(y, g =>
        {
            var gx = new float[Size];
            for (int r = 0; r < starts.Length; r++)
                TensorPrimitives.Add(gx.AsSpan(starts[r], run), g.Data.AsSpan(r * run, run), gx.AsSpan(starts[r], run));
            AccumulateGrad(gx);
        }, this);
    }
}
