// The channels-last int8 depthwise convolution (QDepthwiseConv2d.ForwardChannelsLast) in its two AVX-512 forms on the
// depthwise layers of MobileNetV2 (3×3, strides 1 and 2) and MNASNet/EfficientNet (5×5) at 224² input, batch 1: the
// vpmaddwd kernel (QDepthwiseConv2d.ChannelsLast.cs, one widened tap per product) against the dot-product kernel
// (QDepthwiseConv2d.Dots.cs, 4 taps of a kernel row per vpdpbusd), alternating rounds in one run, the best of each.
// Each form's output is first checked against the naive loops (QConv2dReference). `--threads N` sets Cpu.Threads (a
// layer of this size runs on one thread either way: QDepthwiseConv2d.ChannelsLastParallelFlops).
using System.Globalization;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Bench;

/// <summary>`qdepthwise`: the two channels-last int8 depthwise kernels on MobileNet's layer shapes.</summary>
internal static class QDepthwiseBench
{
    private static readonly (int Channels, int Size, int Kernel, int Stride)[] Layers =
    [
        (32, 112, 3, 1), (96, 112, 3, 2), (144, 56, 3, 1), (144, 56, 3, 2), (192, 28, 3, 1), (384, 14, 3, 1), (576, 14, 3, 1),
        (960, 7, 3, 1), (48, 112, 5, 2), (240, 28, 5, 1), (480, 14, 5, 1),
    ];

    public static int Run(string[] args)
    {
        int at = Array.IndexOf(args, "--threads");
        if (at >= 0) Cpu.Threads = int.Parse(args[at + 1], CultureInfo.InvariantCulture);
        if (Cpu.Active != KernelPath.Avx512)
        {
            Console.WriteLine($"qdepthwise compares the AVX-512 kernels; this CPU's path is {Cpu.Active}");
            return 0;
        }
        Console.WriteLine($"int8 depthwise, channels-last, batch 1, {Cpu.Threads} threads; best of 5 alternating rounds");
        Console.WriteLine();
        Console.WriteLine("| layer | vpmaddwd ms | dot products ms | speed-up |");
        Console.WriteLine("|---|---:|---:|---:|");
        int failures = 0;
        foreach (var (c, size, k, stride) in Layers)
        {
            var g = new Conv2dGeometry(1, c, size, size, c, k, k, Conv2dOptions.Square(stride, k / 2) with { Groups = c });
            var rng = new Rng(3);
            var x = new byte[c * size * size];
            for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
            var w = new sbyte[c * k * k];
            for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(255) - 127);
            var bias = new int[c]; var multiplier = new int[c]; var shift = new int[c];
            for (int o = 0; o < c; o++) { bias[o] = rng.NextInt(2001) - 1000; Requantize.QuantizeMultiplier(0.0003, out multiplier[o], out shift[o]); }
            var planar = QConv2dReference.Requantized(g, QConv2dReference.Forward(g, Planar(x, c, size), 128, w, bias), multiplier, shift, 0, 0, 255);
            var expected = new byte[planar.Length];
            ChannelsLast.FromPlanar(planar, 1, c, g.OutPixels, expected);
            var y = new byte[expected.Length];
            var best = new[] { double.MaxValue, double.MaxValue };
            for (int round = 0; round < 5; round++)
                for (int form = 0; form < 2; form++)
                {
                    QDepthwiseConv2d.ForceDots = form == 1;
                    best[form] = Math.Min(best[form], Timing.MeasureSeconds(() =>
                        QDepthwiseConv2d.ForwardChannelsLast(g, x, 128, w, bias, multiplier, shift, 0, 0, 255, y)));
                    if (round == 0 && !y.AsSpan().SequenceEqual(expected))
                    {
                        Console.WriteLine($"MISMATCH against QConv2dReference: {c} channels {size}² {k}×{k} stride {stride}, form {form}");
                        failures++;
                    }
                }
            QDepthwiseConv2d.ForceDots = null;
            Console.WriteLine($"| {c} ch {size}² {k}×{k} s{stride} | {best[0] * 1e3:F3} | {best[1] * 1e3:F3} | {best[0] / best[1]:F2}× |");
        }
        return failures == 0 ? 0 : 1;
    }

    private static byte[] Planar(byte[] channelsLast, int c, int size)
    {
        var planar = new byte[channelsLast.Length];
        ChannelsLast.ToPlanar(channelsLast, 1, c, size * size, planar);
        return planar;
    }
}
