// Max and average pooling over any number of spatial axes (ONNX MaxPool / AveragePool on (N, C, D, H, W), and
// dilated AveragePool, opset 19), forward and backward. The window of every output is listed once as the flat
// in-plane indices of its taps inside the input (a tap table), then every (n, c) plane runs through the same table.
// The average's divisor follows ONNX Runtime's AveragePool kernels: with count_include_pad, per axis the taps
// before the end of the padded input (so ceil-mode overhang never counts); otherwise the taps inside the input.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Pool;

/// <summary>
/// The taps of every output of an N-D pooling over one plane: output o reads the in-plane input indices
/// <see cref="Index"/>[<see cref="Start"/>[o] .. <see cref="Start"/>[o + 1]) (row-major order), and
/// <see cref="PaddedCount"/>[o] is its tap count including the padding (not the ceil-mode overhang).
/// </summary>
public sealed class PoolTaps
{
    private PoolTaps(int[] start, int[] index, int[] paddedCount, int inputPlane)
    {
        Start = start;
        Index = index;
        PaddedCount = paddedCount;
        InputPlane = inputPlane;
    }

    /// <summary>Where each output's taps begin in <see cref="Index"/> (one more entry than outputs).</summary>
    public int[] Start { get; }

    /// <summary>The in-plane input index of every tap inside the input.</summary>
    public int[] Index { get; }

    /// <summary>Per output, its taps inside the padded input (the count_include_pad divisor).</summary>
    public int[] PaddedCount { get; }

    /// <summary>The elements of one input plane.</summary>
    public int InputPlane { get; }

    /// <summary>The elements of one output plane.</summary>
    public int OutputPlane => PaddedCount.Length;

    /// <summary>
    /// The tap table of a window (per axis kernel, stride, padding before and after, dilation) over an input plane of
    /// <paramref name="input"/> sizes whose output plane has <paramref name="output"/> sizes.
    /// </summary>
    public static PoolTaps Build(int[] input, int[] output, int[] kernel, int[] strides, int[] padsBegin, int[] padsEnd, int[] dilations)
    {
        int rank = input.Length;
        // Per axis and output coordinate: the positions of the taps inside the input, and the taps before the padded end.
        var positions = new int[rank][][];
        var padded = new int[rank][];
        for (int a = 0; a < rank; a++)
        {
            positions[a] = new int[output[a]][];
            padded[a] = new int[output[a]];
            for (int o = 0; o < output[a]; o++)
            {
                var inside = new List<int>();
                for (int k = 0; k < kernel[a]; k++)
                {
                    int p = o * strides[a] - padsBegin[a] + k * dilations[a];
                    if (p < input[a] + padsEnd[a]) padded[a][o]++;
                    if (p >= 0 && p < input[a]) inside.Add(p);
                }
                positions[a][o] = [.. inside];
            }
        }
        var inputStrides = new int[rank];
        for (int a = rank - 1, s = 1; a >= 0; s *= input[a], a--) inputStrides[a] = s;
        int outputs = output.Aggregate(1, (p, d) => checked(p * d)), inputPlane = input.Aggregate(1, (p, d) => checked(p * d));
        var start = new int[outputs + 1];
        var count = new int[outputs];
        var index = new List<int>();
        var coordinate = new int[rank];
        for (int o = 0; o < outputs; o++)
        {
            int rest = o;
            for (int a = rank - 1; a >= 0; a--) { coordinate[a] = rest % output[a]; rest /= output[a]; }
            count[o] = 1;
            for (int a = 0; a < rank; a++) count[o] *= padded[a][coordinate[a]];
            AddTaps(index, positions, coordinate, inputStrides, 0, 0);
            start[o + 1] = index.Count;
        }
        return new PoolTaps(start, [.. index], count, inputPlane);
    }

    // The cartesian product of the axes' inside positions, row-major, as flat in-plane indices.
    private static void AddTaps(List<int> index, int[][][] positions, int[] coordinate, int[] strides, int axis, int offset)
    {
        foreach (int p in positions[axis][coordinate[axis]])
        {
            if (axis == coordinate.Length - 1) index.Add(offset + p * strides[axis]);
            else AddTaps(index, positions, coordinate, strides, axis + 1, offset + p * strides[axis]);
        }
    }
}

/// <summary>N-D max and average pooling kernels over (planes, spatial…) float32 data, driven by a <see cref="PoolTaps"/> table.</summary>
public static class PoolingNd
{
    private const long ParallelThreshold = 1 << 16;

    /// <summary>
    /// Max pooling: each output is the largest of its taps (NaN-propagating, as the 2-D kernels), −∞ over padding only;
    /// <paramref name="argmax"/>, when given, receives the in-plane index of the first tap holding it (−1 for none).
    /// </summary>
    public static void MaxForward(float[] x, float[] y, int[]? argmax, int planes, PoolTaps taps)
    {
        ArgumentNullException.ThrowIfNull(taps);
        Check(x, y, planes, taps);
        int outPlane = taps.OutputPlane;
        ParallelRanges.For(planes, (long)planes * taps.Index.Length, ParallelThreshold, (first, last) =>
        {
            for (int p = first; p < last; p++)
                for (int o = 0; o < outPlane; o++)
                {
                    float best = float.NegativeInfinity;
                    int found = -1, xBase = p * taps.InputPlane;
                    for (int t = taps.Start[o]; t < taps.Start[o + 1]; t++)
                    {
                        float v = x[xBase + taps.Index[t]];
                        if (found < 0 || v > best || (float.IsNaN(v) && !float.IsNaN(best))) { best = v; found = taps.Index[t]; }
                    }
                    y[p * outPlane + o] = best;
                    if (argmax is not null) argmax[p * outPlane + o] = found;
                }
        });
    }

    /// <summary>Max pooling backward: adds each output gradient into <paramref name="gx"/> at its in-plane argmax.</summary>
    public static void MaxBackward(float[] gy, int[] argmax, float[] gx, int planes, PoolTaps taps)
    {
        ArgumentNullException.ThrowIfNull(taps);
        int outPlane = taps.OutputPlane;
        ParallelRanges.For(planes, gy.Length, ParallelThreshold, (first, last) =>
        {
            for (int p = first; p < last; p++)
                for (int o = 0; o < outPlane; o++)
                    if (argmax[p * outPlane + o] >= 0) gx[p * taps.InputPlane + argmax[p * outPlane + o]] += gy[p * outPlane + o];
        });
    }

    /// <summary>
    /// Average pooling: the sum of each output's taps over its divisor (see the file comment); 0 for a window
    /// with no tap inside the input, as ONNX Runtime.
    /// </summary>
    public static void AvgForward(float[] x, float[] y, int planes, PoolTaps taps, bool countIncludePad)
    {
        ArgumentNullException.ThrowIfNull(taps);
        Check(x, y, planes, taps);
        int outPlane = taps.OutputPlane;
        ParallelRanges.For(planes, (long)planes * taps.Index.Length, ParallelThreshold, (first, last) =>
        {
            for (int p = first; p < last; p++)
                for (int o = 0; o < outPlane; o++)
                {
                    int xBase = p * taps.InputPlane, inside = taps.Start[o + 1] - taps.Start[o];
                    float sum = 0f;
                    for (int t = taps.Start[o]; t < taps.Start[o + 1]; t++) sum += x[xBase + taps.Index[t]];
                    y[p * outPlane + o] = inside == 0 ? 0f : sum / (countIncludePad ? taps.PaddedCount[o] : inside);
                }
        });
    }

    /// <summary>Average pooling backward: adds gy / divisor into <paramref name="gx"/> at every tap of each output.</summary>
    public static void AvgBackward(float[] gy, float[] gx, int planes, PoolTaps taps, bool countIncludePad)
    {
        ArgumentNullException.ThrowIfNull(taps);
        int outPlane = taps.OutputPlane;
        ParallelRanges.For(planes, (long)planes * taps.Index.Length, ParallelThreshold, (first, last) =>
        {
            for (int p = first; p < last; p++)
                for (int o = 0; o < outPlane; o++)
                {
                    int xBase = p * taps.InputPlane, inside = taps.Start[o + 1] - taps.Start[o];
                    if (inside == 0) continue;
                    float share = gy[p * outPlane + o] / (countIncludePad ? taps.PaddedCount[o] : inside);
                    for (int t = taps.Start[o]; t < taps.Start[o + 1]; t++) gx[xBase + taps.Index[t]] += share;
                }
        });
    }

    private static void Check(float[] x, float[] y, int planes, PoolTaps taps)
    {
        if (x.Length != planes * taps.InputPlane) throw new ArgumentException($"input has {x.Length} elements, expected {planes}×{taps.InputPlane}");
        if (y.Length != planes * taps.OutputPlane) throw new ArgumentException($"output has {y.Length} elements, expected {planes}×{taps.OutputPlane}");
    }
}
