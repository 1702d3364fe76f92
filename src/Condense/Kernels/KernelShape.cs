// The few shape helpers the kernels need, so that Kernels, the bottom layer, never reaches up to
// Tensors.Shape: row-major strides and the "[2, 3]" form used in one-line error messages (the same as
// Shape.Format, so messages read the same whichever layer raises them).
namespace Condense.Kernels;

/// <summary>Row-major shape arithmetic for the kernels.</summary>
internal static class KernelShape
{
    /// <summary>Row-major strides: the last axis has stride 1.</summary>
    public static int[] Strides(ReadOnlySpan<int> shape)
    {
        var strides = new int[shape.Length];
        int s = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { strides[i] = s; s *= shape[i]; }
        return strides;
    }

    /// <summary>The shape as "[2, 3]".</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
