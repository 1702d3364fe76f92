// Prepacked convolution weights (Kernels/Conv/Conv2dPackedWeights, Tensors/ConvWeightPacking): a forward pass on a
// weight packed by an earlier call gives the bits of packing per call on every kernel path, for one object reused
// across paths and geometries that pick other tile kernels; the packing kept for a weight tensor is replaced after
// MarkModified and never handed out when gradients are on (training writes the weight every step) or while suspended
// (the load-time dry run, which would otherwise keep forms packed for its batch size of one); a packed object with a
// weight source runs calls that pass no weight, on every path and tile size, asking the source once per form it makes.
using Condense.Autograd;
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public class Conv2dPackedWeightsTests
{
    private static float[] Random(ulong seed, long count)
    {
        var rng = new Rng(seed);
        var v = new float[count];
        for (long i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }

    private static Conv2dGeometry G(int n, int c, int hw, int m, int k, int stride, int pad) =>
        new(n, c, hw, hw, m, k, k, Conv2dOptions.Square(stride, pad));

    [Fact]
    public void ReusedPackingGivesTheBitsOfPackingPerCallOnEveryPath()
    {
        // Pixel tiles (16 → 40 channels), channel tiles (64 → 96, K = 576), a 1×1 stride-2 (subsampled first), and the
        // same weight on a larger image (other tile width) — all through one packed object per weight.
        (Conv2dGeometry G, int Seed)[] cases =
        [
            (G(1, 16, 12, 40, 3, 1, 1), 1), (G(2, 64, 9, 96, 3, 1, 1), 2), (G(1, 64, 20, 96, 3, 1, 1), 2),
            (G(2, 8, 9, 12, 1, 2, 0), 3), (G(1, 32, 15, 32, 3, 2, 1), 4), (G(3, 20, 7, 24, 1, 1, 0), 5),
        ];
        var packs = new Dictionary<int, Conv2dPackedWeights>();
        // The direct kernels' packing: with a packed weight a 3×3 stride-1 convolution would otherwise run as Winograd
        // (Conv2dWinogradTests), whose sums are ordered differently.
        using var direct = Conv2dWinograd.Force(WinogradMode.Off);
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            foreach (var (g, seed) in cases)
            {
                var x = Random((ulong)(10 + seed), g.Batch * g.InChannels * g.InPixels);
                var w = Random((ulong)seed, g.OutChannels * g.ColumnRows);
                var b = Random((ulong)(20 + seed), g.OutChannels);
                var r = Random((ulong)(30 + seed), g.Batch * g.OutChannels * g.OutPixels);
                var expected = new float[r.Length];
                Conv2dKernel.Forward(g, x, w, b, expected, r, relu: true);
                var packed = packs.TryGetValue(seed, out var p) ? p : packs[seed] = new Conv2dPackedWeights();
                for (int call = 0; call < 2; call++)
                {
                    var actual = new float[r.Length];
                    Array.Fill(actual, float.NaN);
                    Conv2dKernel.Forward(g, x, w, b, actual, r, relu: true, packed);
                    Assert.Equal(expected, actual);
                }
                Assert.True(packed.Floats >= w.Length);
            }
        }
    }

    [Fact]
    public void AWeightKeepsItsPackingUntilMarkModifiedAndNoneWithGradientsOn()
    {
        var w = new Tensor(Random(2, 64 * 64 * 9), [64, 64, 3, 3]);
        using (GradMode.NoGrad())
        {
            var first = ConvWeightPacking.For(w);
            Assert.Same(first, ConvWeightPacking.For(w));
            w.MarkModified();
            Assert.NotSame(first, ConvWeightPacking.For(w));
        }
        Assert.Null(ConvWeightPacking.For(w));
    }

    [Fact]
    public void NothingIsKeptWhileSuspendedNorByTheLoadTimeDryRun()
    {
        var w = new Tensor(Random(3, 16 * 8 * 9), [16, 8, 3, 3]);
        using (GradMode.NoGrad())
        {
            using (ConvWeightPacking.Suspended())
            {
                using (ConvWeightPacking.Suspended()) Assert.Null(ConvWeightPacking.For(w));
                Assert.Null(ConvWeightPacking.For(w));
            }
            Assert.NotNull(ConvWeightPacking.For(w));
        }

        string dir = Directory.CreateTempSubdirectory("condense-packing").FullName;
        try
        {
            string path = Path.Combine(dir, "lenet5.onnx");
            ModelFile.Save(GraphTracer.Trace(ModelSpec.Parse("lenet5").Build(0), [784]), path);
            var model = ModelFile.Load(path);
            var conv = model.Graph.Nodes.First(n => n.OpType == OpTypes.Conv);
            var weight = model.Graph.Initializers[conv.Inputs[1]];
            using (GradMode.NoGrad())
            {
                Assert.Equal(0, ConvWeightPacking.For(weight)!.Floats);
                model.Eval();
                model.Forward(new Tensor(new float[2 * 784], [2, 1, 28, 28]));
                Assert.True(ConvWeightPacking.For(weight)!.Floats > 0, "a real pass packs the weight it keeps");
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void AWeightSourceStandsInForTheWeightAndIsAskedOncePerForm()
    {
        // Direct (pixel tiles), a 1×1 stride-2 (subsampled first), a 3×3 stride-1 by F(2×2), F(4×4) and direct, a 1×1 (GEMM).
        (Conv2dGeometry G, WinogradMode Mode, int Seed)[] cases =
        [
            (G(1, 16, 12, 40, 3, 2, 1), WinogradMode.Auto, 1), (G(2, 8, 9, 12, 1, 2, 0), WinogradMode.Auto, 2),
            (G(2, 24, 10, 20, 3, 1, 1), WinogradMode.F2, 3), (G(2, 24, 10, 20, 3, 1, 1), WinogradMode.F4, 4),
            (G(2, 24, 10, 20, 3, 1, 1), WinogradMode.Off, 5), (G(3, 20, 7, 24, 1, 1, 0), WinogradMode.Auto, 6),
        ];
        foreach (var path in Cpu.SupportedPaths)
        {
            using var _ = Cpu.Force(path);
            foreach (var (g, mode, seed) in cases)
            {
                using var form = Conv2dWinograd.Force(mode);
                var x = Random((ulong)(10 + seed), g.Batch * g.InChannels * g.InPixels);
                var w = Random((ulong)seed, g.OutChannels * g.ColumnRows);
                var b = Random((ulong)(20 + seed), g.OutChannels);
                var expected = new float[g.Batch * g.OutChannels * g.OutPixels];
                Conv2dKernel.Forward(g, x, w, b, expected, default, relu: false, new Conv2dPackedWeights());
                int asked = 0;
                var sourced = new Conv2dPackedWeights(weight => { asked++; w.CopyTo(weight); });
                for (int call = 0; call < 2; call++)
                {
                    var actual = new float[expected.Length];
                    Array.Fill(actual, float.NaN);
                    Conv2dKernel.Forward(g, x, default, b, actual, default, relu: false, sourced);
                    Assert.Equal(expected, actual);
                }
                Assert.Equal(1, asked);
            }
        }
        // Without a source the weight is required.
        var geometry = G(1, 4, 5, 4, 3, 1, 1);
        Assert.ThrowsAny<Exception>(() => Conv2dKernel.Forward(geometry, new float[100], default, default, new float[100], default, false,
            new Conv2dPackedWeights()));
    }
}
