// The channels-last (NHWC) forms of QConv2d, which the integer engine keeps its codes in between convolutions when the
// int8 dot product is the emitted zmm vpdpbusd (QConv2dNhwc reads and writes NHWC, so no layout work is left per layer).
// On every other dot product the same calls transpose to NCHW, run the planar kernels and transpose back, so a model
// compiled for one path runs on any (the tests force each). NCHW callers on the JIT path go the other way round.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;

namespace Condense.Kernels.Int8Conv;

/// <summary>
/// A residual Add fused after a convolution: QAdd of the convolution's codes (zero point the layer's z_y, multiplier
/// <paramref name="MultiplierConv"/>) and the other operand's codes, into codes of (<paramref name="ZeroPoint"/>) clamped
/// below at <paramref name="QMin"/>.
/// </summary>
internal readonly record struct FusedAdd(byte ConvZeroPoint, int MultiplierConv, byte OtherZeroPoint, int MultiplierOther, int Shift, byte ZeroPoint,
    byte QMin);

public static unsafe partial class QConv2d
{
    /// <summary>True when the channels-last convolution runs without transposes (the JIT dot product and its kernels).</summary>
    internal static bool ChannelsLastIsNative => Cpu.ActiveInt8Dot == Int8Dot.JitZmmQuads && QConvKernelJitZmm.Available;

    /// <summary>
    /// Whether a layer is wide enough for the channels-last kernels: 32 or more output channels (two 16-channel panels per
    /// weight load at least) and 16 or more taps × channels (256 for NCHW callers, who pay two transposes), or a 1×1 layer of
    /// 16 or more channels in and out. LeNet's 6- and 16-channel 5×5 layers ran 2 to 30 times slower there than on the
    /// planar kernels; an NCHW 16 → 32-channel 3×3 layer 1.3 times slower, a 32 → 32 one 1.1 times faster. MobileNetV2's
    /// RGB stem (27 taps × channels) and its 1×1 layers of 16 to 32 channels in or out (16 → 96, 96 → 24 at 112² and 56²)
    /// run 1.3 to 2.5 times faster channels-last than planar (`real --only mobilenet --profile int8 --steps`), and keep the
    /// depthwise layers between them channels-last too.
    /// </summary>
    internal static bool ChannelsLastSuits(int inChannels, int outChannels, int kernelH, int kernelW, bool planarCaller = false) =>
        planarCaller ? outChannels >= 32 && inChannels * kernelH * kernelW >= 256
        : (outChannels >= 32 && inChannels * kernelH * kernelW >= 16) || (kernelH * kernelW == 1 && inChannels >= 16 && outChannels >= 16);

    /// <summary>
    /// <see cref="ForwardRequantized"/> on x (N, H, W, C) into y (N, OH, OW, M); <paramref name="x"/> must hold 3 bytes
    /// past the images (read, multiplied by 0, when C % 4 ≠ 0).
    /// </summary>
    internal static void ForwardChannelsLast(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight,
        ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, byte yZeroPoint, byte qmin, byte qmax, Span<byte> y) =>
        ForwardChannelsLast(g, x, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, y, default, default);

    /// <summary>
    /// <see cref="ForwardChannelsLast(Conv2dGeometry, ReadOnlySpan{byte}, byte, PackedInt8Weights, ReadOnlySpan{int}, ReadOnlySpan{int},
    /// ReadOnlySpan{int}, byte, byte, byte, Span{byte})"/> followed by the residual <paramref name="add"/> with <paramref name="other"/>
    /// (N, OH, OW, M) when that is not empty: y receives the Add's codes.
    /// </summary>
    internal static void ForwardChannelsLast(Conv2dGeometry g, ReadOnlySpan<byte> x, byte xZeroPoint, PackedInt8Weights weight,
        ReadOnlySpan<int> bias, ReadOnlySpan<int> multiplier, ReadOnlySpan<int> shift, byte yZeroPoint, byte qmin, byte qmax, Span<byte> y,
        FusedAdd add, ReadOnlySpan<byte> other)
    {
        long inSize = (long)g.Batch * g.InChannels * g.InPixels, outSize = (long)g.Batch * g.OutChannels * g.OutPixels;
        if (x.Length < inSize + 3 || y.Length < outSize || (!other.IsEmpty && other.Length < outSize))
            throw new ArgumentException($"x holds {x.Length} codes (needs {inSize} + 3), y {y.Length} and the residual {other.Length} (need {outSize})");
        if (!ChannelsLastIsNative)
        {
            var planarX = new byte[inSize];
            var planarY = new byte[outSize];
            ChannelsLast.ToPlanar(x, g.Batch, g.InChannels, g.InPixels, planarX);
            ForwardRequantized(g, planarX, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, planarY);
            if (!other.IsEmpty)
                QAdd.Forward(planarY, add.ConvZeroPoint, add.MultiplierConv, Planar(other[..(int)outSize], g), add.OtherZeroPoint, add.MultiplierOther,
                    add.Shift, add.ZeroPoint, add.QMin, planarY);
            ChannelsLast.FromPlanar(planarY, g.Batch, g.OutChannels, g.OutPixels, y);
            return;
        }
        Check(g, (int)inSize, weight, (int)outSize);
        Requantize.CheckShifts(shift);
        fixed (byte* px = x, py = y, po = other)
        fixed (int* pb = bias, pm = multiplier, ps = shift)
            QConv2dNhwc.Forward(g, px, xZeroPoint, weight, bias.IsEmpty ? null : pb, pm, ps, yZeroPoint, qmin, qmax, py, null,
                add, other.IsEmpty ? null : po);
    }

    private static byte[] Planar(ReadOnlySpan<byte> channelsLast, Conv2dGeometry g)
    {
        var planar = new byte[channelsLast.Length];
        ChannelsLast.ToPlanar(channelsLast, g.Batch, g.OutChannels, g.OutPixels, planar);
        return planar;
    }

    /// <summary><see cref="MaxPool"/> on x (N, H, W, C) into y (N, OH, OW, C).</summary>
    internal static void MaxPoolChannelsLast(ReadOnlySpan<byte> x, int batch, int height, int width, int channels, PoolParameters window, Span<byte> y)
    {
        var (oh, ow) = window.OutputSize(height, width);
        if (x.Length < batch * height * width * channels || y.Length < batch * oh * ow * channels)
            throw new ArgumentException($"max pool buffers hold {x.Length} and {y.Length} values; too few for the shapes");
        fixed (byte* px = x, py = y)
            QMaxPoolNhwc.Forward(px, batch, height, width, channels, window, oh, ow, py);
    }

    [ThreadStatic] private static byte[]? t_channelsLastInput;
    [ThreadStatic] private static int[]? t_channelsLastOutput;

    // The NCHW images through QConv2dNhwc: x transposed into a copy with 3 bytes of slack (its last quad reads past C),
    // the output transposed back (the calling thread's buffers).
    private static void ChannelsLastRun(Conv2dGeometry g, byte* x, byte xZeroPoint, PackedInt8Weights weight, int* bias,
        int* multiplier, int* shift, byte yZeroPoint, byte qmin, byte qmax, byte* y, int* acc)
    {
        long inSize = (long)g.Batch * g.InChannels * g.InPixels, outSize = (long)g.Batch * g.OutChannels * g.OutPixels;
        byte* nhwc = AlignedBuffer.Of(ref t_channelsLastInput, checked((int)inSize + 4));
        int* sums = AlignedBuffer.Of(ref t_channelsLastOutput, checked((int)outSize));
        {
            ChannelsLast.FromPlanar(x, g.Batch, g.InChannels, g.InPixels, nhwc);
            if (y is null)
            {
                QConv2dNhwc.Forward(g, nhwc, xZeroPoint, weight, bias, null, null, 0, 0, 0, null, sums);
                ChannelsLast.ToPlanar(sums, g.Batch, g.OutChannels, g.OutPixels, acc);
                return;
            }
            byte* codes = (byte*)sums;
            QConv2dNhwc.Forward(g, nhwc, xZeroPoint, weight, bias, multiplier, shift, yZeroPoint, qmin, qmax, codes, null);
            ChannelsLast.ToPlanar(codes, g.Batch, g.OutChannels, g.OutPixels, y);
        }
    }
}
