// The fp32 2-D convolution (NCHW) as im2col + GEMM, forward and backward. Per image n and group g
// (Conv2dGeometry names the sizes; col = im2col(x[n, g]), Im2Col.cs):
//   forward      y[n, g]  = w_g · col + b_g          (M/g × OH·OW) = (M/g × K)(K × OH·OW),  K = C/g·kH·kW
//   input grad   dx[n, g] = col2im(w_gᵀ · dy[n, g])
//   weight grad  dw_g    += dy[n, g] · colᵀ
//   bias grad    db[m]    = Σ_n Σ_pixels dy[n, m]
// Threads take whole images (each GEMM then runs on one thread); with fewer images than threads the images
// run one after the other and the GEMM itself is threaded. The weight gradient sums over images, so images
// are grouped into chunks of a fixed size whatever the thread count, each chunk sums its images in order
// into its own partial, and the partials are added in chunk order: the bits never depend on the threads.
// The im2col matrix is one image's (about C/g·kH·kW·OH·OW floats, well inside L2 for LeNet and small ResNets),
// rebuilt in the backward pass rather than kept from the forward one. Conv2dReference.cs is the specification.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Condense.Kernels;

/// <summary>2-D convolution over NCHW float32 tensors via im2col and <see cref="Gemm"/>.</summary>
public static unsafe class Conv2dKernel
{
    /// <summary>Below this many flops one thread beats waking another (the GEMM driver's threshold).</summary>
    private const long ParallelFlops = 10_000_000;

    /// <summary>Images per weight-gradient partial: fixed, so the summation order does not depend on the thread count.</summary>
    internal const int WeightChunk = 8;

    [ThreadStatic] private static Job? t_job;
    [ThreadStatic] private static float[]? t_partials;

    /// <summary>
    /// y = conv(x, w) + b: x (N, C, H, W), w (M, C/g, kH, kW), b (M) or empty for none, y (N, M, OH, OW),
    /// all tight row-major. y is overwritten.
    /// </summary>
    public static void Forward(Conv2dGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y)
    {
        Check(g, x.Length, "input", (long)g.Batch * g.InChannels * g.InPixels);
        Check(g, weight.Length, "weight", (long)g.OutChannels * g.ColumnRows);
        if (!bias.IsEmpty) Check(g, bias.Length, "bias", g.OutChannels);
        Check(g, y.Length, "output", (long)g.Batch * g.OutChannels * g.OutPixels);
        fixed (float* px = x, pw = weight, pb = bias, py = y)
            Run(Mode.Forward, g, px, pw, bias.IsEmpty ? null : pb, py, null, 0f);
    }

    /// <summary>
    /// The input gradient dx = ∂L/∂x from dy = ∂L/∂y: dx (N, C, H, W) is overwritten, or added to when
    /// <paramref name="accumulate"/>.
    /// </summary>
    public static void BackwardInput(Conv2dGeometry g, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate)
    {
        Check(g, weight.Length, "weight", (long)g.OutChannels * g.ColumnRows);
        Check(g, dy.Length, "output gradient", (long)g.Batch * g.OutChannels * g.OutPixels);
        Check(g, dx.Length, "input gradient", (long)g.Batch * g.InChannels * g.InPixels);
        fixed (float* pw = weight, pdy = dy, pdx = dx)
            Run(Mode.Input, g, null, pw, null, pdy, pdx, accumulate ? 1f : 0f);
    }

    /// <summary>
    /// The weight gradient dw = ∂L/∂w from x and dy: dw (M, C/g, kH, kW) is overwritten, or added to when
    /// <paramref name="accumulate"/>.
    /// </summary>
    public static void BackwardWeight(Conv2dGeometry g, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dWeight, bool accumulate)
    {
        Check(g, x.Length, "input", (long)g.Batch * g.InChannels * g.InPixels);
        Check(g, dy.Length, "output gradient", (long)g.Batch * g.OutChannels * g.OutPixels);
        int size = g.OutChannels * g.ColumnRows;
        Check(g, dWeight.Length, "weight gradient", size);
        int chunks = (g.Batch + WeightChunk - 1) / WeightChunk;
        if (chunks == 0) { if (!accumulate) dWeight.Clear(); return; }
        // Chunk 0 writes straight into dw (it applies accumulate's beta); the others into partials added after.
        var partials = Scratch(ref t_partials, (chunks - 1) * size);
        fixed (float* px = x, pdy = dy, pdw = dWeight, pp = partials)
        {
            Run(Mode.Weight, g, px, pdw, pp, pdy, null, accumulate ? 1f : 0f);
            var total = new Span<float>(pdw, size);
            for (int c = 1; c < chunks; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(total, new ReadOnlySpan<float>(pp + (long)(c - 1) * size, size), total);
        }
    }

    /// <summary>The bias gradient db[m] = Σ_n Σ_pixels dy[n, m]: db (M) is overwritten, or added to when <paramref name="accumulate"/>.</summary>
    public static void BackwardBias(Conv2dGeometry g, ReadOnlySpan<float> dy, Span<float> dBias, bool accumulate)
    {
        Check(g, dy.Length, "output gradient", (long)g.Batch * g.OutChannels * g.OutPixels);
        Check(g, dBias.Length, "bias gradient", g.OutChannels);
        if (!accumulate) dBias.Clear();
        int pixels = g.OutPixels;
        for (int n = 0; n < g.Batch; n++)
            for (int m = 0; m < g.OutChannels; m++)
                dBias[m] += System.Numerics.Tensors.TensorPrimitives.Sum(dy.Slice((n * g.OutChannels + m) * pixels, pixels));
    }

    private static void Check(Conv2dGeometry g, int length, string what, long expected)
    {
        if (length != expected)
            throw new ArgumentException($"Conv2d {what} holds {length} floats; {string.Join('×', g.InputShape)} input, {string.Join('×', g.WeightShape)} weight needs {expected}");
    }

    private enum Mode { Forward, Input, Weight }

    // Splits the work into parts (images, or weight chunks) and runs them on the pool or, if it does not pay, here.
    private static void Run(Mode mode, Conv2dGeometry g, float* x, float* w, float* b, float* y, float* dx, float beta)
    {
        int units = mode == Mode.Weight ? (g.Batch + WeightChunk - 1) / WeightChunk : g.Batch;
        if (units == 0) return;
        int parts = g.Flops >= ParallelFlops ? Math.Min(Cpu.Threads, units) : 1;
        var job = t_job ??= new Job();
        job.Set(mode, g, Cpu.Active, units, parts, x, w, b, y, dx, beta);
        try
        {
            if (parts == 1) job.Execute(0); // the GEMMs may then use the threads themselves
            else WorkerPool.Run(job, parts);
        }
        finally { job.Clear(); }
    }

    /// <summary>A buffer of at least <paramref name="count"/> floats kept for this thread's next call.</summary>
    private static Span<float> Scratch(ref float[]? buffer, long count)
    {
        if (buffer is null || buffer.Length < count) buffer = GC.AllocateUninitializedArray<float>(checked((int)count), pinned: true);
        return buffer.AsSpan(0, (int)count);
    }

    /// <summary>One call's work; part p takes a contiguous run of units (images, or weight chunks).</summary>
    private sealed class Job : IParallelJob
    {
        [ThreadStatic] private static float[]? t_column;

        private Mode _mode;
        private Conv2dGeometry _g = null!;
        private KernelPath _path;
        private int _units, _parts;
        private float _beta;
        // Forward: x, w, b (or null), y. Input: w, y = dy, dx. Weight: x, w = dw, b = partials, y = dy.
        private float* _x, _w, _b, _y, _dx;

        public void Set(Mode mode, Conv2dGeometry g, KernelPath path, int units, int parts,
            float* x, float* w, float* b, float* y, float* dx, float beta)
        {
            (_mode, _g, _path, _units, _parts, _beta) = (mode, g, path, units, parts, beta);
            _x = x; _w = w; _b = b; _y = y; _dx = dx;
        }

        public void Clear() { _x = _w = _b = _y = _dx = null; _g = null!; }

        public void Execute(int part)
        {
            int u0 = (int)((long)_units * part / _parts), u1 = (int)((long)_units * (part + 1) / _parts);
            var g = _g;
            // The im2col matrix of one image and group; the pointwise case reads the image instead.
            float* col = g.IsPointwise && _mode != Mode.Input ? null : ColumnBuffer((long)g.ColumnRows * g.OutPixels);
            switch (_mode)
            {
                case Mode.Forward: for (int n = u0; n < u1; n++) ForwardImage(g, n, col); break;
                case Mode.Input: for (int n = u0; n < u1; n++) InputGradImage(g, n, col); break;
                default:
                    for (int c = u0; c < u1; c++)
                    {
                        // Chunk 0 goes straight into dw with the caller's beta; the others start their partial afresh.
                        float* target = c == 0 ? _w : _b + (long)(c - 1) * g.OutChannels * g.ColumnRows;
                        int n1 = Math.Min(g.Batch, (c + 1) * WeightChunk);
                        for (int n = c * WeightChunk; n < n1; n++)
                            WeightGradImage(g, n, col, target, n == c * WeightChunk ? (c == 0 ? _beta : 0f) : 1f);
                    }
                    break;
            }
        }

        private static float* ColumnBuffer(long count)
        {
            if (t_column is null || t_column.Length < count)
                t_column = GC.AllocateUninitializedArray<float>(checked((int)count), pinned: true);
            return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(t_column));
        }

        private void ForwardImage(Conv2dGeometry g, int n, float* col)
        {
            int mg = g.OutPerGroup, k = g.ColumnRows, pixels = g.OutPixels;
            for (int group = 0; group < g.Groups; group++)
            {
                float* image = _x + ((long)n * g.InChannels + group * g.InPerGroup) * g.InPixels;
                float* output = _y + ((long)n * g.OutChannels + group * mg) * pixels;
                float beta = 0f;
                if (_b is not null)
                {
                    for (int m = 0; m < mg; m++) new Span<float>(output + (long)m * pixels, pixels).Fill(_b[group * mg + m]);
                    beta = 1f;
                }
                float* b = image;
                if (col is not null) { Im2Col.Pack(g, image, col, 0f); b = col; }
                Gemm.Run(_path, false, false, mg, pixels, k, 1f, _w + (long)group * mg * k, k, b, pixels, beta, output, pixels);
            }
        }

        private void InputGradImage(Conv2dGeometry g, int n, float* col)
        {
            int mg = g.OutPerGroup, k = g.ColumnRows, pixels = g.OutPixels;
            for (int group = 0; group < g.Groups; group++)
            {
                float* dImage = _dx + ((long)n * g.InChannels + group * g.InPerGroup) * g.InPixels;
                float* dOutput = _y + ((long)n * g.OutChannels + group * mg) * pixels;
                float* wg = _w + (long)group * mg * k;
                if (g.IsPointwise)
                {
                    // dx_g (C/g × HW) = w_gᵀ · dy_g, written straight into the image.
                    Gemm.Run(_path, true, false, k, pixels, mg, 1f, wg, k, dOutput, pixels, _beta, dImage, pixels);
                    continue;
                }
                Gemm.Run(_path, true, false, k, pixels, mg, 1f, wg, k, dOutput, pixels, 0f, col, pixels);
                if (_beta == 0f) new Span<float>(dImage, g.InPerGroup * g.InPixels).Clear();
                Im2Col.AddBack(g, col, dImage);
            }
        }

        private void WeightGradImage(Conv2dGeometry g, int n, float* col, float* dw, float beta)
        {
            int mg = g.OutPerGroup, k = g.ColumnRows, pixels = g.OutPixels;
            for (int group = 0; group < g.Groups; group++)
            {
                float* image = _x + ((long)n * g.InChannels + group * g.InPerGroup) * g.InPixels;
                float* dOutput = _y + ((long)n * g.OutChannels + group * mg) * pixels;
                float* b = image;
                if (col is not null) { Im2Col.Pack(g, image, col, 0f); b = col; }
                // dw_g (M/g × K) = dy_g (M/g × OH·OW) · colᵀ (OH·OW × K).
                Gemm.Run(_path, false, true, mg, k, pixels, 1f, dOutput, pixels, b, pixels, beta, dw + (long)group * mg * k, k);
            }
        }
    }
}
