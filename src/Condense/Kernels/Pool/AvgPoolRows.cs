// Average pooling as two passes of row sums: each output row sums its window's input rows into one row of column sums
// (whole rows, vectorised), then each output sums its window's column sums — kH + kW additions an output instead of
// kH·kW, every one a span addition at stride 1. The divisor is separable too: the window's extent along H times its
// extent along W, clipped to the input (or, with count_include_pad, to the padded input; PyTorch's avg_pool2d). The sums
// run columns first; Pooling.AvgForward's scalar loop, row by row, is the reference (its sums round in another order).
// Inception's 3 × 3 stride-1 poolings over 35 × 35 to 8 × 8 planes ran 0.7 ms each through that loop. A stride-1 pooling
// that keeps the width (3 × 3, padding 1, as Inception's) runs whole planes at once (WholePlanes): over rows of 35 to 8
// values the calls' overhead outweighed the additions, nine a row.
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
        if (window.StrideH == 1 && window.StrideW == 1 && outW == width)
        {
            WholePlanes(x, y, first, last, height, width, window, rows, divisors, emptyWindows, outH);
            return;
        }
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

    // Stride 1 and outW = width: each plane's column sums for every output row at once (one span a tap row over the rows
    // whose window lies inside the input, row by row for the others), then the output as kW shifted spans of those sums
    // over the whole plane — exact but at the first pL and last pR columns of each row, whose shifted taps cross into the
    // neighbouring row and are summed again here. The sums run in the order of the row-by-row path.
    private static void WholePlanes(float[] x, float[] y, int first, int last, int height, int width, PoolParameters window,
        (int First, int End, int Extent)[] rows, float[] divisors, bool emptyWindows, int outH)
    {
        int size = outH * width, kernelH = window.KernelH, kernelW = window.KernelW, padLeft = window.PadLeft;
        // Output rows [inner, innerEnd) read kH whole input rows: oh − padTop + k.
        int inner = Math.Min(window.PadTop, outH), innerEnd = Math.Max(inner, Math.Min(outH, height - kernelH + 1 + window.PadTop));
        var columns = new float[size];
        for (int p = first; p < last; p++)
        {
            var plane = x.AsSpan(p * height * width, height * width);
            var output = y.AsSpan(p * size, size);
            if (innerEnd > inner)
            {
                int length = (innerEnd - inner) * width, from = (inner - window.PadTop) * width;
                var sums = columns.AsSpan(inner * width, length);
                plane.Slice(from, length).CopyTo(sums);
                for (int k = 1; k < kernelH; k++) TensorPrimitives.Add(sums, plane.Slice(from + k * width, length), sums);
            }
            for (int oh = 0; oh < outH; oh++)
            {
                if (oh >= inner && oh < innerEnd) continue;
                var rowSums = columns.AsSpan(oh * width, width);
                rowSums.Clear();
                for (int ih = rows[oh].First; ih < rows[oh].End; ih++) TensorPrimitives.Add(rowSums, plane.Slice(ih * width, width), rowSums);
            }
            // The first tap's shift: a copy (outputs before padLeft are edge columns, summed below).
            if (size > padLeft) columns.AsSpan(0, size - padLeft).CopyTo(output[padLeft..]);
            for (int k = 1; k < kernelW; k++)
            {
                int shift = k - padLeft, from = Math.Max(0, -shift), to = Math.Min(size, size - shift);
                if (from < to) TensorPrimitives.Add(output[from..to], columns.AsSpan(from + shift, to - from), output[from..to]);
            }
            for (int oh = 0; oh < outH; oh++)
            {
                var sums = columns.AsSpan(oh * width, width);
                var row = output.Slice(oh * width, width);
                for (int ow = 0; ow < Math.Min(padLeft, width); ow++) row[ow] = SumInside(sums, ow - padLeft, kernelW);
                for (int ow = Math.Max(padLeft, width - window.PadRight); ow < width; ow++) row[ow] = SumInside(sums, ow - padLeft, kernelW);
            }
            TensorPrimitives.Divide(output, divisors, output);
            if (emptyWindows)
                for (int i = 0; i < size; i++) if (divisors[i] == 0f) output[i] = 0f;
        }
    }

    // Σ sums[start + k] over the taps k < kernel inside the row, in tap order.
    private static float SumInside(ReadOnlySpan<float> sums, int start, int kernel)
    {
        float sum = 0f;
        for (int i = Math.Max(start, 0); i < Math.Min(start + kernel, sums.Length); i++) sum += sums[i];
        return sum;
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
