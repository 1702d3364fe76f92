// Source-index maps for Tensor.Take: for each element of an op's output (row-major), the flat index of the input
// element it copies. Each map is the op's definition written as a loop, so it is also its spec.
namespace Condense.Tensors;

/// <summary>Index maps of the data-movement ops, for <see cref="Tensor.Take"/>.</summary>
public static partial class IndexMaps
{
    /// <summary>Transpose: output dimension i is input dimension <paramref name="perm"/>[i].</summary>
    public static int[] Permute(int[] shape, int[] perm)
    {
        var strides = Shape.Strides(shape);
        var outShape = perm.Select(p => shape[p]).ToArray();
        var outStrides = perm.Select(p => strides[p]).ToArray();
        return Walk(outShape, outStrides, 0);
    }

    /// <summary>
    /// Elements start[d], start[d] + step[d], … (count[d] of them) along every dimension d of a tensor of <paramref name="shape"/>.
    /// </summary>
    public static int[] Strided(int[] shape, int[] start, int[] step, int[] count)
    {
        var strides = Shape.Strides(shape);
        int offset = 0;
        var walk = new int[shape.Length];
        for (int d = 0; d < shape.Length; d++) { offset += start[d] * strides[d]; walk[d] = step[d] * strides[d]; }
        return Walk(count, walk, offset);
    }

    /// <summary>Gather along <paramref name="axis"/> by <paramref name="indices"/> (already made non-negative and checked).</summary>
    public static int[] Gather(int[] shape, int axis, long[] indices)
    {
        int outer = 1, inner = 1, n = shape[axis];
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        var map = new int[outer * indices.Length * inner];
        int k = 0;
        for (int o = 0; o < outer; o++)
            foreach (long index in indices)
                for (int i = 0; i < inner; i++) map[k++] = (o * n + (int)index) * inner + i;
        return map;
    }

    /// <summary>Tile: the tensor repeated <paramref name="repeats"/>[d] times along every dimension d.</summary>
    public static int[] Tile(int[] shape, int[] repeats)
    {
        // Output dimension d, of size repeats[d]·shape[d], read as (copy, i) with the copy major: the copy moves nothing.
        var strides = Shape.Strides(shape);
        var counts = new int[2 * shape.Length];
        var steps = new int[2 * shape.Length];
        for (int d = 0; d < shape.Length; d++) (counts[2 * d], counts[2 * d + 1], steps[2 * d + 1]) = (repeats[d], shape[d], strides[d]);
        return Walk(counts, steps, 0);
    }

    // The flat offsets of an odometer over `counts` whose dimension d advances by `steps[d]`, from `offset`.
    internal static int[] Walk(int[] counts, int[] steps, int offset)
    {
        int size = Shape.Size(counts), rank = counts.Length;
        var map = new int[size];
        if (size == 0) return map;
        var index = new int[rank];
        for (int i = 0; i < size; i++)
        {
            map[i] = offset;
            for (int d = rank - 1; d >= 0; d--)
            {
                offset += steps[d];
                if (++index[d] < counts[d]) break;
                offset -= steps[d] * index[d];
                index[d] = 0;
            }
        }
        return map;
    }
}
