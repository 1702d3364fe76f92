// The int8 convolution of quantized inference, channels-last (NHWC): uint8 activations with a zero point,
// per-channel symmetric int8 weights, int32 accumulators, fixed-point requantization — the QGemm kernel
// run over im2col rows. Channels-last makes one output pixel one GEMM row: row (n, oy, ox) holds the
// patch x[n, oy·sH − pT + kh·dH, ox·sW − pL + kw·dW, c] for (kh, kw, c) in that order (the zero point where
// the patch leaves the image: a float conv pads with 0.0, which quantizes to z_x), so
//   acc[n, oy, ox, o] = Σ_{kh,kw,c} (row − z_x) · w[o, kh, kw, c] + bias32[o]
// is QGemm's X·Wᵀ with X = the rows and W the weight reordered to (M, kH, kW, C), and its (N·OH·OW, M)
// output is the next layer's NHWC input as it stands. QConv2dReference.cs is the spec (naive loops, NCHW).
using System.Buffers;
using System.Runtime.CompilerServices;

namespace Condense.Kernels;

/// <summary>Integer 2-D convolution (groups = 1) and max pooling on NHWC uint8 images.</summary>
public static unsafe class QConv2d
{
    // The im2col rows of one batch chunk stay below this many bytes; larger batches run in chunks.
    private const int MaxRowBytes = 8 << 20;

    /// <summary>
    /// The weight (M, C, kH, kW) of an NCHW convolution as QGemm's (M, kH·kW·C) matrix in the channels-last
    /// patch order (kh, kw, c).
    /// </summary>
    public static sbyte[] ChannelsLastWeight(ReadOnlySpan<sbyte> weight, int outChannels, int inChannels, int kernelH, int kernelW)
    {
        var result = new sbyte[weight.Length];
        int taps = kernelH * kernelW;
        for (int o = 0; o < outChannels; o++)
            for (int c = 0; c < inChannels; c++)
                for (int t = 0; t < taps; t++)
                    result[(o * taps + t) * inChannels + c] = weight[(o * inChannels + c) * taps + t];
        return result;
    }

    /// <summary>
    /// y (N, OH, OW, M) uint8 = clamp(z_y + requant(acc, multiplier[o], shift[o]), qmin, qmax) for x (N, H, W, C)
    /// uint8 with zero point <paramref name="xZeroPoint"/> and <paramref name="weight"/> packed from
    /// <see cref="ChannelsLastWeight"/>; <paramref name="g"/> gives the sizes (groups must be 1).
    /// </summary>
    public static void ForwardRequantized(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight,
        ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, byte yZeroPoint, byte qmin, byte qmax, Span<byte> y)
    {
        Check(g, x.Length, weight, y.Length);
        int imagesPerChunk = ImagesPerChunk(g);
        byte[] rows = ArrayPool<byte>.Shared.Rent(imagesPerChunk * g.OutPixels * g.ColumnRows);
        try
        {
            for (int n0 = 0; n0 < g.Batch; n0 += imagesPerChunk)
            {
                int images = Math.Min(imagesPerChunk, g.Batch - n0), m = images * g.OutPixels;
                var chunk = rows.AsSpan(0, m * g.ColumnRows);
                PackRows(g, x, n0, images, xZeroPoint, chunk);
                QGemm.LinearForwardRequantized(m, chunk, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax,
                    y.Slice(n0 * g.OutPixels * g.OutChannels, m * g.OutChannels));
            }
        }
        finally { ArrayPool<byte>.Shared.Return(rows); }
    }

    /// <summary>The int32 accumulators acc (N, OH, OW, M) of <see cref="ForwardRequantized"/>, before requantization.</summary>
    public static void Forward(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight, ReadOnlySpan<int> bias, Span<int> acc)
    {
        Check(g, x.Length, weight, acc.Length);
        int imagesPerChunk = ImagesPerChunk(g);
        byte[] rows = ArrayPool<byte>.Shared.Rent(imagesPerChunk * g.OutPixels * g.ColumnRows);
        try
        {
            for (int n0 = 0; n0 < g.Batch; n0 += imagesPerChunk)
            {
                int images = Math.Min(imagesPerChunk, g.Batch - n0), m = images * g.OutPixels;
                var chunk = rows.AsSpan(0, m * g.ColumnRows);
                PackRows(g, x, n0, images, xZeroPoint, chunk);
                QGemm.LinearForward(m, chunk, xZeroPoint, weight, bias, acc.Slice(n0 * g.OutPixels * g.OutChannels, m * g.OutChannels));
            }
        }
        finally { ArrayPool<byte>.Shared.Return(rows); }
    }

    /// <summary>
    /// Max pooling of x (N, H, W, C) uint8 into y (N, OH, OW, C); padded positions are skipped (never the max,
    /// as the −∞ padding of float max pooling). Max commutes with a monotone dequantization, so this is the
    /// float MaxPool of the dequantized image, quantized with the same (s, z).
    /// </summary>
    public static void MaxPool(ReadOnlySpan<byte> x, int batch, int height, int width, int channels, PoolWindow window, Span<byte> y)
    {
        ArgumentNullException.ThrowIfNull(window);
        var (oh, ow) = window.OutputSize(height, width);
        if (x.Length != batch * height * width * channels || y.Length != batch * oh * ow * channels)
            throw new ArgumentException($"max pool buffers hold {x.Length} and {y.Length} values; the shapes need {batch * height * width * channels} and {batch * oh * ow * channels}");
        for (int n = 0; n < batch; n++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    var dst = y.Slice(((n * oh + oy) * ow + ox) * channels, channels);
                    dst.Clear();
                    for (int kh = 0; kh < window.KernelH; kh++)
                    {
                        int iy = oy * window.StrideH - window.PadTop + kh * window.DilationH;
                        if ((uint)iy >= (uint)height) continue;
                        for (int kw = 0; kw < window.KernelW; kw++)
                        {
                            int ix = ox * window.StrideW - window.PadLeft + kw * window.DilationW;
                            if ((uint)ix >= (uint)width) continue;
                            var src = x.Slice(((n * height + iy) * width + ix) * channels, channels);
                            System.Numerics.Tensors.TensorPrimitives.Max(dst, src, dst);
                        }
                    }
                }
    }

    /// <summary>NCHW → NHWC (<paramref name="toChannelsLast"/>) or back, for <paramref name="batch"/> images of C × (H·W).</summary>
    public static void Transpose<T>(ReadOnlySpan<T> x, int batch, int channels, int pixels, bool toChannelsLast, Span<T> y)
    {
        for (int n = 0; n < batch; n++)
        {
            var src = x.Slice(n * channels * pixels, channels * pixels);
            var dst = y.Slice(n * channels * pixels, channels * pixels);
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < pixels; p++)
                {
                    if (toChannelsLast) dst[p * channels + c] = src[c * pixels + p];
                    else dst[c * pixels + p] = src[p * channels + c];
                }
        }
    }

    // rows[(n − n0)·OH·OW + oy·OW + ox, (kh·kW + kw)·C + c] = x[n, iy, ix, c], or z_x outside the image.
    // Channels-last puts a patch row's kW taps side by side in x when the dilation is 1 and the row lies
    // inside the image: one copy of kW·C bytes per kernel row instead of kW copies of C.
    private static unsafe void PackRows(Conv2dGeometry g, ReadOnlySpan<byte> x, int n0, int images, byte pad, Span<byte> rows)
    {
        long bytes = (long)images * g.OutPixels * g.ColumnRows;
        int parts = bytes < ParallelBytes ? 1 : Math.Min(Cpu.Threads, images);
        fixed (byte* px = x, pr = rows)
        {
            if (parts <= 1) PackImages(g, px, n0, images, pad, pr);
            else WorkerPool.Run(new PackJob(g, px, pr, n0, images, pad, parts), parts);
        }
    }

    // Below this many bytes of rows the packing runs on the calling thread.
    private const long ParallelBytes = 1 << 16;

    // One contiguous range of images per thread, each writing its own rows.
    private sealed unsafe class PackJob(Conv2dGeometry g, byte* x, byte* rows, int n0, int images, byte pad, int parts) : IParallelJob
    {
        private readonly byte* _x = x, _rows = rows;

        public void Execute(int part)
        {
            int first = (int)((long)images * part / parts), last = (int)((long)images * (part + 1) / parts);
            PackImages(g, _x, n0 + first, last - first, pad, _rows + (long)first * g.OutPixels * g.ColumnRows);
        }
    }

    private static unsafe void PackImages(Conv2dGeometry g, byte* px, int n0, int images, byte pad, byte* pr)
    {
        var o = g.Options;
        int c = g.InChannels, tapBytes = g.KernelW * c, rowBytes = g.Width * c;
        bool contiguous = o.DilationW == 1;
        byte* dst = pr;
        for (int n = n0; n < n0 + images; n++)
        {
            byte* image = px + (long)n * g.InPixels * c;
            for (int oy = 0; oy < g.OutHeight; oy++)
                for (int ox = 0; ox < g.OutWidth; ox++)
                {
                    int ix0 = ox * o.StrideW - o.PadLeft;
                    bool inside = contiguous && ix0 >= 0 && ix0 + g.KernelW <= g.Width;
                    for (int kh = 0; kh < g.KernelH; kh++, dst += tapBytes)
                    {
                        int iy = oy * o.StrideH - o.PadTop + kh * o.DilationH;
                        if ((uint)iy >= (uint)g.Height) { new Span<byte>(dst, tapBytes).Fill(pad); continue; }
                        byte* src = image + (long)iy * rowBytes;
                        if (inside)
                        {
                            Copy(src + (long)ix0 * c, dst, tapBytes);
                            continue;
                        }
                        for (int kw = 0; kw < g.KernelW; kw++)
                        {
                            int ix = ix0 + kw * o.DilationW;
                            if ((uint)ix < (uint)g.Width) Copy(src + (long)ix * c, dst + kw * c, c);
                            else new Span<byte>(dst + kw * c, c).Fill(pad);
                        }
                    }
                }
        }
    }

    // A few bytes (a 5-wide kernel row of one channel) copy faster in a loop than through a memmove call.
    private static unsafe void Copy(byte* src, byte* dst, int count)
    {
        if (count > 16) { Unsafe.CopyBlockUnaligned(dst, src, (uint)count); return; }
        for (int i = 0; i < count; i++) dst[i] = src[i];
    }

    private static int ImagesPerChunk(Conv2dGeometry g) =>
        Math.Clamp(MaxRowBytes / Math.Max(1, g.OutPixels * g.ColumnRows), 1, Math.Max(1, g.Batch));

    private static void Check(Conv2dGeometry g, int xLength, PackedInt8Weights weight, int yLength)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(weight);
        if (g.Groups != 1) throw new ArgumentException($"the int8 convolution takes one group, got {g.Groups}");
        if (weight.OutFeatures != g.OutChannels || weight.InFeatures != g.ColumnRows)
            throw new ArgumentException($"the packed weight is {weight.OutFeatures} × {weight.InFeatures}; the convolution needs {g.OutChannels} × {g.ColumnRows}");
        if (xLength != g.Batch * g.InChannels * g.InPixels) throw new ArgumentException($"x holds {xLength} values, the shape needs {g.Batch * g.InChannels * g.InPixels}");
        if (yLength != g.Batch * g.OutChannels * g.OutPixels) throw new ArgumentException($"the output holds {yLength} values, the shape needs {g.Batch * g.OutChannels * g.OutPixels}");
    }
}
