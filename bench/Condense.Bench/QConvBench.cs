// The int8 convolution (QConv2d) against our fp32 one (Conv2dKernel.Forward) on the same shapes in one run:
// LeNet-5's two convolutions at batch 1, 64 and 256, ResNet-style 3×3 convolutions and MobileNetV2's stem and 1×1 layers, forward only. int8 is
// timed requantized to uint8 (what the integer engine runs); fp32 with bias. Then the uint8 max pooling of
// LeNet's two pools against the float pooling kernel. Where a 3×3 stride-1 case runs integer Winograd (QConv2dWinograd), the
// direct int8 kernels are timed too. Every int8 result is first checked against the naive
// loops (QConv2dReference) on the first two images. `--threads N` sets Cpu.Threads, `--path P` the kernel
// path, `--dot pairs|quads|emulated|maddubs` the int8 dot product (Cpu.ActiveInt8Dot), `--weight-bits B` the weight range
// ±(2^(B−1) − 1) (default 8; vpmaddubsw takes 7-bit weights only); a bare argument keeps the cases whose name contains it.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Pool;
using Condense.Tensors;

namespace Condense.Bench;

/// <summary>`qconv`: int8 vs fp32 convolution forward, and uint8 vs fp32 max pooling.</summary>
internal static class QConvBench
{
    private static Conv2dGeometry G(int n, int c, int hw, int m, int k, int pad, int stride = 1) =>
        new(n, c, hw, hw, m, k, k, Conv2dOptions.Square(stride, pad));

    private static readonly (string Name, Conv2dGeometry Geometry)[] Cases =
    [
        ("lenet conv1 b=1", G(1, 1, 28, 6, 5, 2)), ("lenet conv1 b=64", G(64, 1, 28, 6, 5, 2)), ("lenet conv1 b=256", G(256, 1, 28, 6, 5, 2)),
        ("lenet conv2 b=1", G(1, 6, 14, 16, 5, 0)), ("lenet conv2 b=64", G(64, 6, 14, 16, 5, 0)), ("lenet conv2 b=256", G(256, 6, 14, 16, 5, 0)),
        ("3x3 16-16 28x28 b=64", G(64, 16, 28, 16, 3, 1)), ("3x3 32-32 14x14 b=64", G(64, 32, 14, 32, 3, 1)),
        ("3x3 64-64 7x7 b=64", G(64, 64, 7, 64, 3, 1)), ("3x3 16-32 s2 28x28 b=64", G(64, 16, 28, 32, 3, 1, 2)),
        ("resnet18 conv1 7x7 s2 b=1", G(1, 3, 224, 64, 7, 3, 2)), ("resnet18 3x3 64-64 56x56 b=1", G(1, 64, 56, 64, 3, 1)),
        ("resnet18 3x3 128-128 28x28 b=1", G(1, 128, 28, 128, 3, 1)), ("resnet18 3x3 256-256 14x14 b=1", G(1, 256, 14, 256, 3, 1)),
        ("resnet18 3x3 512-512 7x7 b=1", G(1, 512, 7, 512, 3, 1)), ("resnet18 3x3 64-64 56x56 b=8", G(8, 64, 56, 64, 3, 1)),
        ("resnet18 3x3 512-512 7x7 b=8", G(8, 512, 7, 512, 3, 1)),
        ("mnv2 stem 3x3 s2 3-32 224x224 b=1", G(1, 3, 224, 32, 3, 1, 2)), ("mnv2 1x1 16-96 112x112 b=1", G(1, 16, 112, 96, 1, 0)),
        ("mnv2 1x1 32-16 112x112 b=1", G(1, 32, 112, 16, 1, 0)), ("mnv2 1x1 24-144 56x56 b=1", G(1, 24, 56, 144, 1, 0)),
        ("mnv2 1x1 144-24 56x56 b=1", G(1, 144, 56, 24, 1, 0)), ("mnv2 1x1 96-576 14x14 b=1", G(1, 96, 14, 576, 1, 0)),
        ("mnv2 1x1 960-320 7x7 b=1", G(1, 960, 7, 320, 1, 0)), ("mnv2 1x1 320-1280 7x7 b=1", G(1, 320, 7, 1280, 1, 0)),
    ];

    public static int Run(string[] args)
    {
        int at = Array.IndexOf(args, "--threads");
        if (at >= 0) Cpu.Threads = int.Parse(args[at + 1], System.Globalization.CultureInfo.InvariantCulture);
        int pathAt = Array.IndexOf(args, "--path");
        if (pathAt >= 0) Cpu.Active = Enum.Parse<KernelPath>(args[pathAt + 1], ignoreCase: true);
        int dotAt = Array.IndexOf(args, "--dot");
        using var forcedDot = DotOption.Force(args);
        int bitsAt = Array.IndexOf(args, "--weight-bits");
        int weightMax = (1 << ((bitsAt < 0 ? 8 : int.Parse(args[bitsAt + 1], System.Globalization.CultureInfo.InvariantCulture)) - 1)) - 1;
        var options = new[] { at, pathAt, dotAt, bitsAt }.Where(i => i >= 0).SelectMany(i => new[] { i, i + 1 }).ToHashSet();
        string filter = args.Where((a, i) => !options.Contains(i)).FirstOrDefault() ?? "";
        Console.WriteLine($"int8 vs fp32 convolution forward, path {Cpu.Active}, int8 dot {Cpu.ActiveInt8Dot}, weights in ±{weightMax}, " +
            $"{Cpu.Threads} threads; best of repeated runs; " +
            "GOP/s = 2·N·M·OH·OW·C·kH·kW per second");
        Console.WriteLine();
        Console.WriteLine("| case | fp32 ms | int8 ms | fp32 GFLOP/s | int8 GOP/s | int8 speed-up | int8 direct ms | Winograd speed-up |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        int failures = 0;
        foreach (var (name, g) in Cases.Where(c => c.Name.Contains(filter, StringComparison.Ordinal)))
        {
            var rng = new Rng(1);
            int m = g.OutChannels;
            var xq = new byte[g.Batch * g.InChannels * g.InPixels];
            for (int i = 0; i < xq.Length; i++) xq[i] = (byte)rng.NextInt(256);
            var wq = new sbyte[m * g.ColumnRows];
            for (int i = 0; i < wq.Length; i++) wq[i] = (sbyte)(rng.NextInt(2 * weightMax + 1) - weightMax);
            var bias = new int[m]; var multiplier = new int[m]; var shift = new int[m];
            for (int o = 0; o < m; o++) { bias[o] = rng.NextInt(2001) - 1000; Requantize.QuantizeMultiplier(0.0003, out multiplier[o], out shift[o]); }
            var packed = new PackedInt8Weights(QConv2d.ChannelsLastWeight(wq, m, g.InChannels, g.KernelH, g.KernelW), m, g.ColumnRows);
            var y = new byte[g.Batch * m * g.OutPixels];
            failures += Check(g, xq, wq, packed, bias, multiplier, shift) ? 0 : 1;

            var x = xq.Select(v => (v - 128) / 64f).ToArray();
            var w = wq.Select(v => v / 128f).ToArray();
            var b = bias.Select(v => v / 1000f).ToArray();
            var yf = new float[y.Length];
            double fp32 = Timing.MeasureSeconds(() => Conv2dKernel.Forward(g, x, w, b, yf));
            double int8 = Timing.MeasureSeconds(() => QConv2d.ForwardRequantized(g, xq, 128, packed, bias, multiplier, shift, 0, 0, 255, y));
            var accs = new int[y.Length];
            if (Environment.GetEnvironmentVariable("QCONV_ACC") is not null)
                Console.WriteLine($"acc only {Timing.MeasureSeconds(() => QConv2d.Forward(g, xq, 128, packed, bias, accs)) * 1e3:F3} ms");
            // Where QConv2d runs integer Winograd, the direct kernels it replaced, on the same call.
            string direct = "–", gain = "–";
            if (QConv2dWinograd.Suits(g, Cpu.Active, Cpu.ActiveInt8Dot))
            {
                double seconds;
                using (QConv2dWinograd.Force(false))
                    seconds = Timing.MeasureSeconds(() => QConv2d.ForwardRequantized(g, xq, 128, packed, bias, multiplier, shift, 0, 0, 255, y));
                (direct, gain) = ($"{seconds * 1e3:F3}", $"{seconds / int8:F2}×");
            }
            Console.WriteLine($"| {name} | {fp32 * 1e3:F3} | {int8 * 1e3:F3} | {g.Flops / fp32 / 1e9:F1} | {g.Flops / int8 / 1e9:F1} | " +
                $"{fp32 / int8:F2}× | {direct} | {gain} |");
        }

        Console.WriteLine();
        Console.WriteLine("| max pool 2×2 | fp32 ms | uint8 ms |");
        Console.WriteLine("|---|---:|---:|");
        foreach (var (name, c, hw) in new[] { ("lenet pool1 b=256", 6, 28), ("lenet pool2 b=256", 16, 10) })
        {
            var window = PoolWindow.Square(2, 2, 0, 1, false);
            int n = 256, o = hw / 2;
            var codes = new byte[n * c * hw * hw];
            var rng = new Rng(2);
            for (int i = 0; i < codes.Length; i++) codes[i] = (byte)rng.NextInt(256);
            var floats = codes.Select(v => (float)v).ToArray();
            var pooled = new byte[n * c * o * o]; var pooledF = new float[pooled.Length];
            double fp32 = Timing.MeasureSeconds(() => Pooling.MaxForward(floats, pooledF, n * c, hw, hw, window));
            double int8 = Timing.MeasureSeconds(() => QConv2d.MaxPool(codes, n, hw, hw, c, window, pooled));
            Console.WriteLine($"| {name} | {fp32 * 1e3:F3} | {int8 * 1e3:F3} |");
        }
        return failures == 0 ? 0 : 1;
    }

    // The requantized output of the first two images equals the naive loops'.
    private static bool Check(Conv2dGeometry g, byte[] xq, sbyte[] wq, PackedInt8Weights packed, int[] bias, int[] multiplier, int[] shift)
    {
        var small = new Conv2dGeometry(Math.Min(2, g.Batch), g.InChannels, g.Height, g.Width, g.OutChannels, g.KernelH, g.KernelW, g.Options);
        var x = xq.AsSpan(0, small.Batch * g.InChannels * g.InPixels).ToArray();
        var expected = QConv2dReference.Requantized(small, QConv2dReference.Forward(small, x, 128, wq, bias), multiplier, shift, 0, 0, 255);
        var y = new byte[expected.Length];
        QConv2d.ForwardRequantized(small, x, 128, packed, bias, multiplier, shift, 0, 0, 255, y);
        if (y.AsSpan().SequenceEqual(expected)) return true;
        Console.WriteLine($"MISMATCH against QConv2dReference for {g.Batch}×{g.InChannels}×{g.Height}×{g.Width} → {g.OutChannels}");
        return false;
    }
}
