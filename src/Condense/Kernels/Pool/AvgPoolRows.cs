// Average pooling as two passes of row sums: each output row sums its window's input rows into one row of column sums
// (whole rows, vectorised), then each output sums its window's column sums — kH + kW additions an output instead of
// kH·kW, every one a span addition at stride 1. The divisor is separable too: the window's extent along H times its
// extent along W, clipped to the input (or, with count_include_pad, to the padded input; PyTorch's avg_pool2d). The sums
// run columns first; Pooling.AvgForward's scalar loop, row by row, is the reference (its sums round in another order).
// Inception's 3 × 3 stride-1 poolings over 35 × 35 to 8 × 8 planes ran 0.7 ms each through that loop.
using System.Numerics.Tensors;

namespace Condense.Kernels.Pool;

/// <summary>Average pooling of planes by row sums.</summary>
internal static class AvgPoolRows
{
    /// <summary>y of planes [<paramref name="first"/>, <paramref name="last"/>); dilation 1.</summary>
    public static void Forward(float[] x, float[] y, int first, int last, int height, int width, PoolParameters window, bool countIncludePad,
        int outH, int outW)
    {
        // Per output row its input rows and divisor share, and the divisors of every output position: the same for every plane.
        var rows = new (int First, int End, int Extent)[outH];
        for (int oh = 0; oh < outH; oh++)
            rows[oh] = Pooling.AvgAxis(oh, height, window.KernelH, window.StrideH, window.PadTop, window.PadBottom, countIncludePad);
        var divisors = new float[outH * outW];
        for (int ow = 0; ow < outW; ow++)
        {
            int extent = Pooling.AvgAxis(ow, width, window.KernelW, window.StrideW, window.PadLeft, window.PadRight, countIncludePad).Extent;
            for (int oh = 0; oh < outH; oh++) divisors[oh * outW + ow] = rows[oh].Extent * extent;
        }
        // A window with no input element in it (ceil-mode overhang past the padding) averages to 0, not 0/0.
        bool emptyWindows = divisors.Contains(0f);
        var columns = new float[width];
        for (int p = first; p < last; p++)
        {
            var plane = x.AsSpan(p * height * width, height * width);
            for (int oh = 0; oh < outH; oh++)
            {
                var row = y.AsSpan((p * outH + oh) * outW, outW);
                var rowDivisors = divisors.AsSpan(oh * outW, outW);
                Array.Clear(columns);
                for (int ih = rows[oh].First; ih < rows[oh].End; ih++) TensorPrimitives.Add(columns, plane.Slice(ih * width, width), columns);
                SumAcross(columns, row, window.KernelW, window.StrideW, window.PadLeft);
                TensorPrimitives.Divide(row, rowDivisors, row);
                if (emptyWindows)
                    for (int ow = 0; ow < outW; ow++) if (rowDivisors[ow] == 0f) row[ow] = 0f;
            }
        }
    }

    // row[ow] = Σ columns[ow·stride − pad + k] over the taps k inside the input.
    private static void SumAcross(ReadOnlySpan<float> columns, Span<float> row, int kernel, int stride, int pad)
    {
        row.Clear();
        int width = columns.Length;
        if (stride == 1)
        {
            // Tap k adds columns[ow − pad + k] to the outputs whose tap lies inside the input: one shifted span each.
            for (int k = 0; k < kernel; k++)
            {
                int from = Math.Max(0, pad - k), to = Math.Min(row.Length, width + pad - k);
                if (from < to) TensorPrimitives.Add(row[from..to], columns.Slice(from - pad + k, to - from), row[from..to]);
            }
            return;
        }
        for (int ow = 0; ow < row.Length; ow++)
        {
            int start = ow * stride - pad;
            float sum = 0f;
            for (int iw = Math.Max(start, 0); iw < Math.Min(start + kernel, width); iw++) sum += columns[iw];
            row[ow] = sum;
        }
    }
}
