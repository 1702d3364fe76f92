// NumPy broadcasting as index maps: for each element of the broadcast result, the flat index of the input element
// it reads. The typed ops (every element type) and the take-based ops use it; the float32 autograd ops keep their
// row-loop kernels (Kernels/Elementwise/Broadcast).
namespace Condense.Tensors;

internal static class BroadcastIndex
{
    /// <summary>The broadcast shape of several shapes (NumPy rules), or a one-line error naming them.</summary>
    public static int[] Shape(params int[][] shapes)
    {
        var result = shapes[0];
        foreach (var s in shapes.AsSpan(1)) result = Tensors.Shape.Broadcast(result, s);
        return result;
    }

    /// <summary>
    /// For each element of <paramref name="output"/>, the flat index of the <paramref name="input"/> element it reads;
    /// null when the shapes are equal (the identity map).
    /// </summary>
    public static int[]? Map(int[] input, int[] output)
    {
        if (input.AsSpan().SequenceEqual(output)) return null;
        int rank = output.Length, size = Tensors.Shape.Size(output);
        var strides = new int[rank];
        int stride = 1;
        for (int d = input.Length - 1; d >= 0; d--)
        {
            int outDim = d + rank - input.Length;
            strides[outDim] = input[d] == 1 && output[outDim] != 1 ? 0 : stride;
            stride *= input[d];
        }
        var map = new int[size];
        if (size == 0) return map;
        var index = new int[rank];
        int offset = 0;
        for (int i = 0; i < size; i++)
        {
            map[i] = offset;
            for (int d = rank - 1; d >= 0; d--)
            {
                offset += strides[d];
                if (++index[d] < output[d]) break;
                offset -= strides[d] * index[d];
                index[d] = 0;
            }
        }
        return map;
    }
}
