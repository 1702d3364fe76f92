// The int8 convolution of quantized inference on NCHW images: uint8 activations with a zero point,
// per-channel symmetric int8 weights, int32 accumulators, fixed-point requantization:
//   acc[n, o, oy, ox] = Σ_{c,kh,kw} (x[n, c, iy, ix] − z_x) · w[o, c, kh, kw] + bias32[o]
// with x − z_x = 0 where the patch leaves the image (a float conv pads with 0.0, which quantizes to z_x). The
// output is the next layer's input as it stands. The weight is packed once in the (kh, kw, c) tap order of
// ChannelsLastWeight (any fixed order gives the same exact sums). The work runs in QConv2dDirect.cs (taps read
// from a padded planar int16 image, channels as tile rows, pixels in vector lanes): an im2col matrix fed to
// QGemm did the same sums but spent most of LeNet's conv1 (6 channels, 25 taps) on packing and on a GEMM
// shape built for many output columns. Where the int8 dot product is vpdpbusd (Cpu.ActiveInt8Dot), layers with
// 3 or more input channels run QConv2dQuads.cs instead (channel quads of raw uint8; with Int8Dot.MaddubsQuads only
// C a multiple of 4 and weights whose pairs cannot saturate vpmaddubsw's int16 sums); where it is the emitted zmm
// vpdpbusd (Int8Dot.JitZmmQuads), wide layers (ChannelsLastSuits) run channels-last (QConv2d.ChannelsLast.cs); where it
// runs at vpmaddwd's rate (no VNNI), 3×3 stride-1 layers run integer Winograd F(2×2, 3×3) (QConv2dWinograd.cs).
// QConv2dReference.cs is the spec.

using System.Runtime.CompilerServices;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;

namespace Condense.Kernels.Int8Conv;

/// <summary>Integer 2-D convolution (groups = 1) and max pooling on NCHW uint8 images.</summary>
public static unsafe partial class QConv2d
{
    /// <summary>
    /// The weight (M, C, kH, kW) of a convolution as the (M, kH·kW·C) matrix, taps in the order (kh, kw, c), that
    /// <see cref="PackedInt8Weights"/> packs for <see cref="ForwardRequantized"/>.
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
    /// y (N, M, OH, OW) uint8 = clamp(z_y + requant(acc, multiplier[o], shift[o]), qmin, qmax) for x (N, C, H, W)
    /// uint8 with zero point <paramref name="xZeroPoint"/> and <paramref name="weight"/> packed from
    /// <see cref="ChannelsLastWeight"/>; <paramref name="g"/> gives the sizes (groups must be 1).
    /// </summary>
    public static void ForwardRequantized(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight,
        ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, byte yZeroPoint, byte qmin, byte qmax, Span<byte> y)
    {
        Check(g, x.Length, weight, y.Length);
        if (multiplier.Length != g.OutChannels || shift.Length != g.OutChannels || (!bias.IsEmpty && bias.Length != g.OutChannels))
            throw new ArgumentException($"bias, multiplier and shift need {g.OutChannels} values, got {bias.Length}, {multiplier.Length} and {shift.Length}");
        Requantize.CheckShifts(shift);
        if (qmin > qmax) throw new ArgumentException($"qmin {qmin} exceeds qmax {qmax}");
        fixed (byte* px = x, py = y)
        fixed (int* pb = bias, pm = multiplier, ps = shift)
            Run(g, px, xZeroPoint, weight, bias.IsEmpty ? null : pb, pm, ps, yZeroPoint, qmin, qmax, py, null);
    }

    /// <summary>The int32 accumulators acc (N, M, OH, OW) of <see cref="ForwardRequantized"/>, before requantization.</summary>
    public static void Forward(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight, ReadOnlySpan<int> bias, Span<int> acc)
    {
        Check(g, x.Length, weight, acc.Length);
        if (!bias.IsEmpty && bias.Length != g.OutChannels) throw new ArgumentException($"bias needs {g.OutChannels} values, got {bias.Length}");
        fixed (byte* px = x)
        fixed (int* pb = bias, pa = acc)
            Run(g, px, xZeroPoint, weight, bias.IsEmpty ? null : pb, null, null, 0, 0, 0, null, pa);
    }

    private static void Run(Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc)
    {
        // Read once on the calling thread (a test's forced setting is thread-local) and handed to the parts.
        var (path, dot) = (Cpu.Active, Cpu.ActiveInt8Dot);
        if (dot == Int8Dot.JitZmmQuads && QConvKernelJitZmm.Available
            && ChannelsLastSuits(g.InChannels, g.OutChannels, g.KernelH, g.KernelW, planarCaller: true))
        {
            ChannelsLastRun(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
            return;
        }
        // The emitted kernels read channels-last only: a planar layer on a CPU that has AVX-VNNI too takes its ymm quads.
        dot = PlanarDot(dot);
        if (UsesStrips(g, path, dot, weight))
        {
            ForwardStrips(dot, g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
            return;
        }
        if (QConv2dWinograd.Suits(g, path, dot))
        {
            QConv2dWinograd.Forward(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
            return;
        }
        int parts = g.Batch >= Cpu.Threads || g.Flops < ParallelOps ? 1 : Math.Min(Cpu.Threads, (g.OutChannels + BlockRows - 1) / BlockRows);
        if (parts <= 1)
        {
            Direct(path, dot, g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
            return;
        }
        var blocks = ChannelBlocks.Of(weight, parts);
        var job = new BlockJob(path, dot, g, x, xZeroPoint, blocks, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
        WorkerPool.Run(job, parts);
    }

    /// <summary>The dot product the planar kernels run for <paramref name="dot"/>: AVX-VNNI's quads in place of the emitted zmm ones.</summary>
    internal static Int8Dot PlanarDot(Int8Dot dot) => dot == Int8Dot.JitZmmQuads && Cpu.Supports(Int8Dot.Quads) ? Int8Dot.Quads : dot;

    private static void Direct(KernelPath path, Int8Dot dot, Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc)
    {
        // uint8 channel quads (vpdpbusd) from 3 input channels on: padding C to a multiple of 4 adds at most 60 % more
        // taps (C = 5), paid back by four multiply-adds per lane; C = 1 or 2 (LeNet's conv1) would quadruple or double them.
        if (dot == Int8Dot.Quads && g.InChannels >= 3)
            QConv2dQuads<VnniDot4>.Forward(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
        else if (dot == Int8Dot.EmulatedQuads && g.InChannels >= 3)
            QConv2dQuads<EmulatedDot4>.Forward(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
        // vpmaddubsw + vpmaddwd multiply at the rate of the pair kernels' vpmaddwd (both need the multiplier port per 16
        // multiply-adds), so channels padded to a quad would be a pure loss: C a multiple of 4 only. Then the channel pairs
        // (c, c+1), c even, of a tap are the row's pairs (k, k+1), k even, which packing checked.
        else if (dot == Int8Dot.MaddubsQuads && g.InChannels % 4 == 0 && weight.PairSumsFitInt16)
            QConv2dQuads<MaddubsDot4>.Forward(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
        else switch (path)
        {
            case KernelPath.Avx512:
                QConv2dDirect<QConvKernelAvx512>.Forward(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
                break;
            case KernelPath.Avx2:
                QConv2dDirect<QConvKernelAvx2>.Forward(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
                break;
            default:
                QConv2dDirect<QConvKernelScalar>.Forward(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
                break;
        }
    }

    [ThreadStatic] private static bool t_noStrips;

    /// <summary>
    /// Whether stride-1 1×1 convolutions called from this thread run strip by strip where they can (QConv2dQuads.Strips.cs;
    /// tests turn it off to compare with the whole-image quads; per thread, so tests running at the same time keep their path).
    /// </summary>
    internal static bool Strips { get => !t_noStrips; set => t_noStrips = !value; }

    // A stride-1 1×1 convolution without padding of at least two strips, on a quad dot product that suits the weight
    // (vpmaddubsw: C a multiple of 4 and no saturating pair, as Direct).
    internal static bool UsesStrips(Conv2dGeometry g, KernelPath path, Int8Dot dot, PackedInt8Weights weight)
    {
        var o = g.Options;
        bool pointwise = g.KernelH == 1 && g.KernelW == 1 && o.StrideH == 1 && o.StrideW == 1
            && o.PadTop == 0 && o.PadLeft == 0 && o.PadBottom == 0 && o.PadRight == 0;
        bool quads = dot is Int8Dot.Quads or Int8Dot.EmulatedQuads || (dot == Int8Dot.MaddubsQuads && g.InChannels % 4 == 0 && weight.PairSumsFitInt16);
        return Strips && pointwise && quads && path != KernelPath.Scalar && g.InChannels >= 4 && g.OutPixels >= 2 * QConvKernelQuads<MaddubsDot4>.NR;
    }

    private static void ForwardStrips(Int8Dot dot, Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc)
    {
        if (dot == Int8Dot.Quads)
            QConv2dQuads<VnniDot4>.ForwardStrips(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
        else if (dot == Int8Dot.EmulatedQuads)
            QConv2dQuads<EmulatedDot4>.ForwardStrips(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
        else QConv2dQuads<MaddubsDot4>.ForwardStrips(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, acc);
    }

    // Fewer images than threads (batch 1): part p computes the output channels of block p for every image, through its own
    // packed rows of the weight; each output value is the same sum as unsplit, so any thread count gives the same bits.
    private const int BlockRows = 16;

    /// <summary>
    /// From this many operations (2 per multiply-add) a batch smaller than the threads splits its output channels over
    /// them: the fp32 GEMM's threshold, as an int8 multiply-add costs what an fp32 one does without VNNI. It was 10 M
    /// (Conv2dKernel's): in alternating runs on the AMD machine MobileNetV2 int8 batch 1 went 28.3–28.9 → 25.0–25.8 ms and
    /// resnet-mini int8 batch 1 0.84–0.85 → 0.81–0.83 ms.
    /// </summary>
    internal const long ParallelOps = 3_000_000;

    /// <summary>A weight split into row blocks of whole multiples of <see cref="BlockRows"/>, kept on the weight per part count.</summary>
    private sealed record ChannelBlocks(int[] First, PackedInt8Weights[] Weights)
    {
        private static readonly ConditionalWeakTable<PackedInt8Weights, ChannelBlocks[]> Cache = new();

        public static ChannelBlocks Of(PackedInt8Weights weight, int parts)
        {
            var all = Cache.GetValue(weight, _ => new ChannelBlocks[Cpu.Threads + 1]);
            if (parts < all.Length && all[parts] is { } known) return known;
            int m = weight.OutFeatures, k = weight.InFeatures, units = (m + BlockRows - 1) / BlockRows;
            var first = new int[parts + 1];
            for (int p = 0; p <= parts; p++) first[p] = Math.Min(m, (int)((long)units * p / parts) * BlockRows);
            var weights = new PackedInt8Weights[parts];
            for (int p = 0; p < parts; p++)
            {
                var rows = new sbyte[(first[p + 1] - first[p]) * k];
                for (int o = first[p]; o < first[p + 1]; o++)
                    for (int c = 0; c < k; c++) rows[(o - first[p]) * k + c] = weight.At(o, c);
                weights[p] = new PackedInt8Weights(rows, first[p + 1] - first[p], k);
            }
            var blocks = new ChannelBlocks(first, weights);
            if (parts < all.Length) all[parts] = blocks;
            return blocks;
        }
    }

    private sealed class BlockJob(KernelPath path, Int8Dot dot, Conv2dGeometry g, byte* x, byte xZeroPoint, ChannelBlocks blocks, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc) : IParallelJob
    {
        private readonly byte* _x = x, _y = y;
        private readonly int* _bias = bias, _multiplier = multiplier, _shift = shift, _acc = acc;

        public void Execute(int part)
        {
            int first = blocks.First[part], rows = blocks.First[part + 1] - first, pixels = g.OutPixels;
            if (rows == 0) return;
            var image = new Conv2dGeometry(1, g.InChannels, g.Height, g.Width, rows, g.KernelH, g.KernelW, g.Options);
            for (int n = 0; n < g.Batch; n++)
            {
                long output = ((long)n * g.OutChannels + first) * pixels;
                Direct(path, dot, image, _x + (long)n * g.InChannels * g.InPixels, xZeroPoint, blocks.Weights[part], _bias is null ? null : _bias + first,
                    _multiplier is null ? null : _multiplier + first, _shift is null ? null : _shift + first, yZeroPoint, qmin, qmax,
                    _y is null ? null : _y + output, _acc is null ? null : _acc + output);
            }
        }
    }

    /// <summary>
    /// Max pooling of x (N, C, H, W) uint8 into y (N, C, OH, OW); padded positions are skipped (never the max,
    /// as the −∞ padding of float max pooling). Max commutes with a monotone dequantization, so this is the
    /// float MaxPool of the dequantized image, quantized with the same (s, z).
    /// </summary>
    public static void MaxPool(ReadOnlySpan<byte> x, int batch, int height, int width, int channels, PoolParameters window, Span<byte> y)
    {
        var (oh, ow) = window.OutputSize(height, width);
        if (x.Length != batch * height * width * channels || y.Length != batch * oh * ow * channels)
            throw new ArgumentException(
                $"max pool buffers hold {x.Length} and {y.Length} values; " +
                $"the shapes need {batch * height * width * channels} and {batch * oh * ow * channels}");
        fixed (byte* px = x, py = y)
            QMaxPool.Forward(px, batch * channels, height, width, window, oh, ow, py);
    }

    private static void Check(Conv2dGeometry g, int xLength, PackedInt8Weights weight, int yLength)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(weight);
        if (g.Groups != 1) throw new ArgumentException($"the int8 convolution takes one group, got {g.Groups}");
        if (weight.OutFeatures != g.OutChannels || weight.InFeatures != g.ColumnRows)
            throw new ArgumentException(
                $"the packed weight is {weight.OutFeatures} × {weight.InFeatures}; the convolution needs {g.OutChannels} × {g.ColumnRows}");
        if (xLength != g.Batch * g.InChannels * g.InPixels)
            throw new ArgumentException($"x holds {xLength} values, the shape needs {g.Batch * g.InChannels * g.InPixels}");
        if (yLength != g.Batch * g.OutChannels * g.OutPixels)
            throw new ArgumentException($"the output holds {yLength} values, the shape needs {g.Batch * g.OutChannels * g.OutPixels}");
    }
}
