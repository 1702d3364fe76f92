// The write-out of finished pixel tiles (Conv2dDirect.Forward.cs): a tile holds channel rows × a run of padded output
// positions q = oy·Wq + ox (Conv2dDirect.cs), of which those with ox ≥ OW are computed and dropped. Each run of kept
// positions within one output row (a segment) goes to the NCHW output with vector loads and (masked) stores, the
// residual Add and the Relu of a fused Conv → Add → Relu applied on the way, in the order the separate ops compute them
// (y = conv, y = y + residual, y = max(y, 0)), so the fused result has their bits. The segments are found once per
// call and reused for every row; rows go one after another (the channels' outputs lie a multiple of 1 KiB apart in
// ResNet's layers, so hopping between channels per segment thrashes a few L1 sets). Writing each tile while it is in
// L1 replaces a whole-output buffer and a copy pass (900 short row copies per image of 16 channels of 28×28).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Copies between pixel tiles (rows × padded positions) and NCHW output rows, with the optional residual Add and Relu.</summary>
internal static unsafe class PixelTileOutput
{
    /// <summary>
    /// For the kept positions q in [q0, q0 + count) (ox = q mod wq &lt; ow, q &lt; OH·wq) and rows i &lt; rows:
    /// y[i·yStride + oy·ow + ox] = epilogue(tile[i·ldt + q − q0]), the epilogue adding residual (same layout as y; may be
    /// null) and then taking max(·, 0) when <paramref name="relu"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Write(KernelPath path, float* tile, int ldt, int rows, int q0, int count, int wq, int ow, float* y, int yStride,
        float* residual, bool relu)
    {
        // The segments first (tile offset, output offset, length), then row by row: one channel's output at a time.
        int most = count / wq + 2, segments = 0;
        int* from = stackalloc int[most], length = stackalloc int[most];
        long* to = stackalloc long[most];
        for (int q = q0, end = q0 + count; q < end;)
        {
            int oy = q / wq, ox = q - oy * wq, rowEnd = Math.Min(end, (oy + 1) * wq), n = Math.Min(ow, ox + rowEnd - q) - ox;
            if (n > 0) { from[segments] = q - q0; to[segments] = (long)oy * ow + ox; length[segments++] = n; } // else all dropped
            q = rowEnd;
        }
        for (int row = 0; row < rows; row++)
        {
            float* t = tile + (long)row * ldt, o = y + (long)row * yStride, r = residual is null ? null : residual + (long)row * yStride;
            for (int s = 0; s < segments; s++) Segment(path, t + from[s], o + to[s], r is null ? null : r + to[s], length[s], relu);
        }
    }

    /// <summary>The reverse, with no epilogue: tile[i·ldt + q − q0] = y[i·yStride + oy·ow + ox] for the kept positions.</summary>
    public static void Read(float* tile, int ldt, int rows, int q0, int count, int wq, int ow, float* y, int yStride)
    {
        for (int q = q0, end = q0 + count; q < end;)
        {
            int oy = q / wq, ox = q - oy * wq, rowEnd = Math.Min(end, (oy + 1) * wq), n = Math.Min(ow, ox + rowEnd - q) - ox;
            if (n > 0)
                for (int row = 0; row < rows; row++)
                    Unsafe.CopyBlockUnaligned(tile + (long)row * ldt + (q - q0), y + (long)row * yStride + (long)oy * ow + ox, (uint)(n * sizeof(float)));
            q = rowEnd;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Segment(KernelPath path, float* from, float* to, float* residual, int n, bool relu)
    {
        int j = 0;
        if (path == KernelPath.Avx512)
        {
            // On long segments, a masked head up to the output's next 64-byte boundary, so that the full stores never split a
            // cache line (which halves the speed of writing a large output); short ones are not worth the extra step.
            int head = n < 64 ? 0 : (int)((64 - ((nint)to & 63)) & 63) / sizeof(float);
            if (head > 0) Masked(from, to, residual, head, relu);
            for (j = head; j + 16 <= n; j += 16)
            {
                var v = Vector512.Load(from + j);
                if (residual is not null) v += Vector512.Load(residual + j);
                if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
                v.Store(to + j);
            }
            if (j < n) Masked(from + j, to + j, residual is null ? null : residual + j, n - j, relu);
            return;
        }
        if (path == KernelPath.Avx2 && n >= 8)
        {
            // The last 8 values as one more vector that overlaps the previous one: it writes the same values again, so a
            // 14-wide output row costs two stores rather than a store and six scalar steps. It is computed before any store,
            // so a residual that is the output itself is not added twice.
            var tail = Epilogue8(from + n - 8, residual is null ? null : residual + n - 8, relu);
            for (; j + 8 <= n; j += 8) Epilogue8(from + j, residual is null ? null : residual + j, relu).Store(to + j);
            if (j < n) tail.Store(to + n - 8);
            return;
        }
        for (; j < n; j++)
        {
            float v = from[j];
            if (residual is not null) v += residual[j];
            to[j] = relu ? MathF.Max(v, 0f) : v;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Epilogue8(float* from, float* residual, bool relu)
    {
        var v = Vector256.Load(from);
        if (residual is not null) v += Vector256.Load(residual);
        return relu ? Vector256.Max(v, Vector256<float>.Zero) : v;
    }

    // The first n < 16 values with masked AVX-512 loads and stores.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Masked(float* from, float* to, float* residual, int n, bool relu)
    {
        var mask = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(n)).AsSingle();
        var v = Avx512F.MaskLoad(from, mask, Vector512<float>.Zero);
        if (residual is not null) v += Avx512F.MaskLoad(residual, mask, Vector512<float>.Zero);
        if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
        Avx512F.MaskStore(to, mask, v);
    }
}
