// The stem of the ImageNet CNNs (a 3 × 3 convolution of the 3-channel image at stride 2) as the channels-last graph runs
// it (Kernels/Conv/DirectChannelsLast: channels-first image in, channels-last output) against ONNX Runtime running the
// same Conv node, alternating calls in one run (the best of 5 rounds each), on one and two threads of ours; ReLU6 as the
// clamp. Each output is first checked against the naive loops (Conv2dReference), transposed by index.
//   dotnet run -c Release --project bench/Condense.Bench -- stem
using Condense.Kernels.Conv;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Bench;

/// <summary>`stem`: the few-taps channels-last convolution against ONNX Runtime's Conv on the CNN stems.</summary>
internal static unsafe class StemBench
{
    private static readonly (string Name, int Channels, int Size, int Outputs, int Stride)[] Stems =
    [
        ("MobileNetV2/EfficientNet 3→32", 3, 224, 32, 2), ("MobileNetV3/MNASNet-0.5 3→16", 3, 224, 16, 2),
        ("ShuffleNetV2 3→24", 3, 224, 24, 2), ("3→32 at 320²", 3, 320, 32, 2), ("3→16 stride 1 at 96²", 3, 96, 16, 1),
    ];

    public static int Run(string[] args)
    {
        Console.WriteLine($"stem convolutions 3×3, batch 1, path {Cpu.Active}; ms, best of 5 alternating rounds; ORT on {Environment.ProcessorCount} threads");
        Console.WriteLine();
        Console.WriteLine("| stem | ours 1 thread | ours 2 threads | ORT | ORT / ours (2 threads) |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        int failures = 0;
        foreach (var (name, c, size, m, stride) in Stems)
        {
            var g = new Conv2dGeometry(1, c, size, size, m, 3, 3, Conv2dOptions.Square(stride, 1));
            var rng = new Rng(5);
            float[] x = Random(rng, c * size * size), w = Random(rng, m * c * 9), b = Random(rng, m);
            var expected = new float[m * g.OutPixels];
            Conv2dReference.Forward(g, x, w, b, expected);
            for (int i = 0; i < expected.Length; i++) expected[i] = Math.Clamp(expected[i], 0f, 6f);
            var packed = DirectChannelsLast.Pack(w, m, g.ColumnRows);
            var y = new float[expected.Length];
            var clamp = new VectorClamp(0f, 6f);
            using var ort = new ConvBench.OrtConv(g, w, b, x);
            void Ours(int threads)
            {
                using var _ = Cpu.ForceThreads(threads);
                fixed (float* px = x, pw = packed, pb = b, py = y) DirectChannelsLast.Forward(Cpu.Active, g, px, pw, pb, py, null, clamp);
            }
            Ours(2);
            for (int p = 0; p < g.OutPixels; p++)
                for (int o = 0; o < m; o++)
                    if (!(Math.Abs(y[p * m + o] - expected[o * g.OutPixels + p]) <= 1e-4f * 6))
                    {
                        Console.WriteLine($"MISMATCH against Conv2dReference: {name}, pixel {p} channel {o}");
                        failures++;
                        p = g.OutPixels;
                        break;
                    }
            var best = new[] { double.MaxValue, double.MaxValue, double.MaxValue };
            for (int round = 0; round < 5; round++)
            {
                best[0] = Math.Min(best[0], Timing.MeasureSeconds(() => Ours(1), 0.1));
                best[1] = Math.Min(best[1], Timing.MeasureSeconds(() => Ours(2), 0.1));
                best[2] = Math.Min(best[2], Timing.MeasureSeconds(ort.RunDiscard, 0.1));
            }
            Console.WriteLine($"| {name} ({size}², stride {stride}) | {best[0] * 1e3:F3} | {best[1] * 1e3:F3} | {best[2] * 1e3:F3} | {best[2] / best[1]:F2} |");
        }
        return failures == 0 ? 0 : 1;
    }

    private static float[] Random(Rng rng, int count)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }
}
