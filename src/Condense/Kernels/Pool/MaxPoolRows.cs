// Max pooling for any window at horizontal stride 1 or 2 without dilation (ResNet's 3 × 3 at stride 2 with padding
// 1, Inception's 3 × 3 at stride 1), one output row at a time in two separable steps, as max(a, b, c, …) over a
// rectangle is the max over its rows of the max over its columns:
//   vertical    v[padLeft + i] = max over the window's rows inside the image of x[row, i]   (SIMD across the row)
//   horizontal  y[ow] = max over kw of v[ow·sW + kw]; at stride 2 v is first split into its even and odd lanes, so
//               tap kw reads lane kw mod 2 at ow + kw div 2 and every tap is one contiguous run (SIMD across outputs).
// v holds −∞ in the padding and past the image (ceil-mode windows), so clipped windows need no bounds tests, and a
// window over padding only gives −∞ as the general loop does. The max is IEEE 754-2019 maximum
// (TensorPrimitives.Max, NaN-propagating, +0 above −0), so outputs equal Pooling's general loop (MathF.Max) bit for bit.
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Conv;

namespace Condense.Kernels.Pool;

/// <summary>Max pooling by rows for horizontal stride 1 or 2 and no dilation, over planes [first, last).</summary>
internal static class MaxPoolRows
{
    /// <summary>True when the window runs here: no dilation and a horizontal stride of 1 or 2.</summary>
    public static bool Fits(PoolParameters window) =>
        window is { DilationH: 1, DilationW: 1, StrideW: 1 or 2 };

    /// <summary>y (planes, outH, outW) = the max pooling of x (planes, height, width) for planes [first, last).</summary>
    public static void Forward(float[] x, float[] y, int first, int last, int height, int width, int outH, int outW, PoolParameters window)
    {
        int sw = window.StrideW, kw = window.KernelW;
        // v covers every column a window reads: the left padding, the image, and up to the last window's end (even length).
        int span = Math.Max(window.PadLeft + width, (outW - 1) * sw + kw);
        var v = new float[(span + 1) / 2 * 2];
        var even = new float[v.Length / 2];
        var odd = new float[v.Length / 2];
        v.AsSpan().Fill(float.NegativeInfinity);
        for (int p = first; p < last; p++)
        {
            var plane = x.AsSpan(p * height * width, height * width);
            for (int oh = 0; oh < outH; oh++)
            {
                int top = oh * window.StrideH - window.PadTop;
                int r0 = Math.Max(top, 0), r1 = Math.Min(top + window.KernelH, height);
                var row = v.AsSpan(window.PadLeft, width);
                if (r0 >= r1) row.Fill(float.NegativeInfinity);
                else if (r1 - r0 == 3) Max3(plane.Slice(r0 * width, width), plane.Slice((r0 + 1) * width, width), plane.Slice((r0 + 2) * width, width), row);
                else
                {
                    plane.Slice(r0 * width, width).CopyTo(row);
                    for (int r = r0 + 1; r < r1; r++) TensorPrimitives.Max(row, plane.Slice(r * width, width), row);
                }
                var output = y.AsSpan((p * outH + oh) * outW, outW);
                if (sw == 1)
                {
                    Horizontal(v, v, 1, kw, output);
                    continue;
                }
                Split(v, even, odd);
                Horizontal(even, odd, 2, kw, output);
            }
        }
    }

    // even[i] = v[2i], odd[i] = v[2i + 1] (v of even length), eight pairs a step (it was a scalar loop: ResNet-18's 3 × 3
    // stride-2 pooling of 64 × 112 × 112 took 0.19 ms against ONNX Runtime's 0.08).
    private static unsafe void Split(float[] v, float[] even, float[] odd)
    {
        fixed (float* pv = v, pe = even, po = odd) StrideTwoSplit.Split(pv, v.Length, pe, po);
    }

    // output[ow] = max over taps t < kw of v[ow·stride + t]: at stride 1 `even` is v itself; at stride 2 tap t reads
    // even[ow + t/2] (t even) or odd[ow + t/2] (t odd).
    private static void Horizontal(float[] even, float[] odd, int stride, int kw, Span<float> output)
    {
        int count = output.Length;
        if (kw == 3)
        {
            // The common 3-wide window in one pass: taps 0, 1, 2.
            if (stride == 1) Max3(even.AsSpan(0, count), even.AsSpan(1, count), even.AsSpan(2, count), output);
            else Max3(even.AsSpan(0, count), odd.AsSpan(0, count), even.AsSpan(1, count), output);
            return;
        }
        even.AsSpan(0, count).CopyTo(output);
        for (int t = 1; t < kw; t++)
        {
            var lane = stride == 1 ? even.AsSpan(t, count) : (t % 2 == 0 ? even : odd).AsSpan(t / 2, count);
            TensorPrimitives.Max(output, lane, output);
        }
    }

    // output[i] = max(a[i], b[i], c[i]) in one pass (three TensorPrimitives.Max calls over rows of 56–112 values cost more in
    // call overhead than in work). Vector512.Max is IEEE 754-2019 maximum as MathF.Max is, and that maximum is associative and
    // commutative (NaN wins, +0 above −0), so the bits are those of any order of the general loop.
    private static void Max3(ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> c, Span<float> output)
    {
        int n = output.Length, i = 0;
        ref float ra = ref MemoryMarshal.GetReference(a), rb = ref MemoryMarshal.GetReference(b), rc = ref MemoryMarshal.GetReference(c);
        ref float ro = ref MemoryMarshal.GetReference(output);
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
                Vector512.Max(Vector512.Max(Vector512.LoadUnsafe(ref ra, (nuint)i), Vector512.LoadUnsafe(ref rb, (nuint)i)),
                    Vector512.LoadUnsafe(ref rc, (nuint)i)).StoreUnsafe(ref ro, (nuint)i);
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8)
                Vector256.Max(Vector256.Max(Vector256.LoadUnsafe(ref ra, (nuint)i), Vector256.LoadUnsafe(ref rb, (nuint)i)),
                    Vector256.LoadUnsafe(ref rc, (nuint)i)).StoreUnsafe(ref ro, (nuint)i);
        for (; i < n; i++) output[i] = MathF.Max(MathF.Max(a[i], b[i]), c[i]);
    }
}
