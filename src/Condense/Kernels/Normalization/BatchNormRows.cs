// The one-pass row loops of the batch-norm kernels: each (n, c) row of S floats is read once per pass,
// 16 (AVX-512) or 8 (AVX2) lanes at a time, with a scalar tail and a scalar path. Products and sums are
// rounded separately (no fused multiply-add), so the affine passes give the same bits on every path;
// the reductions keep one partial sum per lane, so their bits depend on the path but not on the threads.
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Normalization;

/// <summary>Row loops for <see cref="BatchNormKernels"/>.</summary>
internal static class BatchNormRows
{
    /// <summary>Σ (x − mean)².</summary>
    public static float SquaredDeviations(ReadOnlySpan<float> x, float mean, KernelPath path)
    {
        ref float r = ref MemoryMarshal.GetReference(x);
        int i = 0;
        float sum = 0f;
        if (path == KernelPath.Avx512 && x.Length >= 16)
        {
            var acc = Vector512<float>.Zero;
            var m = Vector512.Create(mean);
            for (; i + 16 <= x.Length; i += 16) { var d = Vector512.LoadUnsafe(ref r, (nuint)i) - m; acc += d * d; }
            sum = Vector512.Sum(acc);
        }
        else if (path != KernelPath.Scalar && x.Length >= 8)
        {
            var acc = Vector256<float>.Zero;
            var m = Vector256.Create(mean);
            for (; i + 8 <= x.Length; i += 8) { var d = Vector256.LoadUnsafe(ref r, (nuint)i) - m; acc += d * d; }
            sum = Vector256.Sum(acc);
        }
        for (; i < x.Length; i++) { float d = x[i] - mean; sum += d * d; }
        return sum;
    }

    /// <summary>(Σ gy, Σ gy·(x − mean)) in one pass.</summary>
    public static (float SumG, float SumGCentered) GradientSums(ReadOnlySpan<float> gy, ReadOnlySpan<float> x, float mean, KernelPath path)
    {
        ref float g = ref MemoryMarshal.GetReference(gy);
        ref float r = ref MemoryMarshal.GetReference(x);
        int i = 0;
        float sumG = 0f, sumGx = 0f;
        if (path == KernelPath.Avx512 && x.Length >= 16)
        {
            Vector512<float> accG = default, accGx = default, m = Vector512.Create(mean);
            for (; i + 16 <= x.Length; i += 16)
            {
                var gv = Vector512.LoadUnsafe(ref g, (nuint)i);
                accG += gv;
                accGx += gv * (Vector512.LoadUnsafe(ref r, (nuint)i) - m);
            }
            sumG = Vector512.Sum(accG); sumGx = Vector512.Sum(accGx);
        }
        else if (path != KernelPath.Scalar && x.Length >= 8)
        {
            Vector256<float> accG = default, accGx = default, m = Vector256.Create(mean);
            for (; i + 8 <= x.Length; i += 8)
            {
                var gv = Vector256.LoadUnsafe(ref g, (nuint)i);
                accG += gv;
                accGx += gv * (Vector256.LoadUnsafe(ref r, (nuint)i) - m);
            }
            sumG = Vector256.Sum(accG); sumGx = Vector256.Sum(accGx);
        }
        for (; i < x.Length; i++) { sumG += gy[i]; sumGx += gy[i] * (x[i] - mean); }
        return (sumG, sumGx);
    }

    /// <summary>y = x·scale + shift, or with <paramref name="relu"/> max(x·scale + shift, 0) (the bits of a Relu after it);
    /// x and y may be the same.</summary>
    public static void Affine(ReadOnlySpan<float> x, Span<float> y, float scale, float shift, KernelPath path, bool relu = false)
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        int i = 0, length = y.Length;
        if (path == KernelPath.Avx512)
        {
            Vector512<float> vs = Vector512.Create(scale), vt = Vector512.Create(shift);
            if (relu)
                for (; i + 16 <= length; i += 16)
                    Vector512.Max(Vector512.LoadUnsafe(ref rx, (nuint)i) * vs + vt, Vector512<float>.Zero).StoreUnsafe(ref ry, (nuint)i);
            else for (; i + 16 <= length; i += 16) (Vector512.LoadUnsafe(ref rx, (nuint)i) * vs + vt).StoreUnsafe(ref ry, (nuint)i);
        }
        else if (path == KernelPath.Avx2)
        {
            Vector256<float> vs = Vector256.Create(scale), vt = Vector256.Create(shift);
            if (relu)
                for (; i + 8 <= length; i += 8)
                    Vector256.Max(Vector256.LoadUnsafe(ref rx, (nuint)i) * vs + vt, Vector256<float>.Zero).StoreUnsafe(ref ry, (nuint)i);
            else for (; i + 8 <= length; i += 8) (Vector256.LoadUnsafe(ref rx, (nuint)i) * vs + vt).StoreUnsafe(ref ry, (nuint)i);
        }
        for (; i < length; i++) y[i] = relu ? MathF.Max(x[i] * scale + shift, 0f) : x[i] * scale + shift;
    }

    /// <summary>out = (a·ka + b·kb) + constant, element-wise; <paramref name="output"/> may alias a or b.</summary>
    public static void Combine(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> output, float ka, float kb, float constant, KernelPath path)
    {
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float ro = ref MemoryMarshal.GetReference(output);
        int i = 0, length = output.Length;
        if (path == KernelPath.Avx512)
        {
            Vector512<float> va = Vector512.Create(ka), vb = Vector512.Create(kb), vc = Vector512.Create(constant);
            for (; i + 16 <= length; i += 16)
                ((Vector512.LoadUnsafe(ref ra, (nuint)i) * va + Vector512.LoadUnsafe(ref rb, (nuint)i) * vb) + vc).StoreUnsafe(ref ro, (nuint)i);
        }
        else if (path == KernelPath.Avx2)
        {
            Vector256<float> va = Vector256.Create(ka), vb = Vector256.Create(kb), vc = Vector256.Create(constant);
            for (; i + 8 <= length; i += 8)
                ((Vector256.LoadUnsafe(ref ra, (nuint)i) * va + Vector256.LoadUnsafe(ref rb, (nuint)i) * vb) + vc).StoreUnsafe(ref ro, (nuint)i);
        }
        for (; i < length; i++) output[i] = (a[i] * ka + b[i] * kb) + constant;
    }
}
