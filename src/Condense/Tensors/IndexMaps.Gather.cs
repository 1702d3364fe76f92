// Index maps of the element-wise gathers (ONNX GatherElements, GatherND), which are also the write targets of their
// scatters (ScatterElements, ScatterND). Indices arrive already made non-negative and checked by the caller.
namespace Condense.Tensors;

public static partial class IndexMaps
{
    /// <summary>
    /// GatherElements along <paramref name="axis"/>: for each position p of the indices (shape
    /// <paramref name="indicesShape"/>, the data's rank), the data element at p with coordinate <paramref name="axis"/>
    /// replaced by indices[p].
    /// </summary>
    public static int[] GatherElements(int[] dataShape, int axis, long[] indices, int[] indicesShape)
    {
        var strides = Shape.Strides(dataShape);
        var steps = (int[])strides.Clone();
        steps[axis] = 0;
        var map = Walk(indicesShape, steps, 0);
        for (int p = 0; p < map.Length; p++) map[p] += (int)indices[p] * strides[axis];
        return map;
    }

    /// <summary>
    /// GatherND: the indices (shape [b…, n…, m]) name, per batch position b… and tuple n…, the block of the data at
    /// data[b…][i1]…[im]; the map lists every element of every block, in the order of GatherND's output
    /// (indices.shape[:−1] + data.shape[batchDims + m:]).
    /// </summary>
    public static int[] GatherND(int[] dataShape, long[] indices, int[] indicesShape, int batchDims)
    {
        int m = indicesShape[^1], tuples = Shape.Size(indicesShape.AsSpan(0, indicesShape.Length - 1));
        int batches = Shape.Size(indicesShape.AsSpan(0, batchDims)), perBatch = batches == 0 ? 0 : tuples / batches;
        var strides = Shape.Strides(dataShape);
        int block = Shape.Size(dataShape.AsSpan(batchDims + m)), batchSize = Shape.Size(dataShape.AsSpan(batchDims));
        var map = new int[tuples * block];
        for (int t = 0, k = 0; t < tuples; t++)
        {
            int offset = (t / perBatch) * batchSize;
            for (int j = 0; j < m; j++) offset += (int)indices[t * m + j] * strides[batchDims + j];
            for (int e = 0; e < block; e++) map[k++] = offset + e;
        }
        return map;
    }
}
