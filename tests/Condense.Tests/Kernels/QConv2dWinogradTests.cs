// Integer Winograd F(2×2, 3×3) (QConv2dWinograd) against the naive loops of QConv2dReference: equal integers before and
// after requantization on ragged shapes (odd output sizes, odd channel counts, output channels not a multiple of the
// 6-row panel, several images per block and blocks across images), every padding from 0 to 2 and asymmetric, zero
// points 0..255; the extremes of the exactness argument (1,000 channels of 255 against ±128, where the int32 partial
// sums wrap and the result must not); one image split over two threads by tile rows and by output channels; and the dispatch: QConv2d picks it for 3×3
// stride-1 layers exactly where Suits says.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed unsafe class QConv2dWinogradTests
{
    // (batch, C, H, W, M, pad top, left, bottom, right, z_x)
    private static readonly (int N, int C, int H, int W, int M, int PT, int PL, int PB, int PR, byte Zx)[] Cases =
    [
        (1, 16, 8, 8, 16, 1, 1, 1, 1, 0), (2, 17, 9, 11, 13, 1, 1, 1, 1, 128), (1, 3, 5, 5, 1, 0, 0, 0, 0, 7),
        (3, 5, 7, 6, 7, 2, 0, 1, 2, 255), (2, 1, 3, 3, 2, 1, 1, 1, 1, 9), (1, 40, 33, 35, 20, 1, 0, 0, 1, 31),
        (8, 24, 7, 7, 30, 1, 1, 1, 1, 3),     // 7×7 outputs: blocks of tile rows from two images
        (1, 32, 30, 30, 40, 1, 1, 1, 1, 90),  // above the parallel threshold: blocks on two threads
        (2, 64, 4, 3, 64, 1, 1, 1, 1, 200),
        (1, 256, 7, 7, 256, 1, 1, 1, 1, 5),   // one block, its output channels split between two threads
    ];

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        if (!Cpu.Supports(KernelPath.Avx2)) return data;
        for (int i = 0; i < Cases.Length; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void MatchesTheNaiveLoopsExactly(int index)
    {
        var c = Cases[index];
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, c.M, 3, 3, new Conv2dOptions(1, 1, c.PT, c.PL, c.PB, c.PR));
        var rng = new Rng((ulong)(index + 11));
        var x = new byte[c.N * c.C * c.H * c.W];
        for (int i = 0; i < x.Length; i++) x[i] = (byte)rng.NextInt(256);
        var w = new sbyte[c.M * c.C * 9];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(256) - 128);
        var (acc, y, expectedAcc, expectedY) = Run(g, x, c.Zx, w, seed: 7, threads: 2);
        Assert.Equal(expectedAcc, acc);
        Assert.Equal(expectedY, y);
        var (oneThread, _, _, _) = Run(g, x, c.Zx, w, seed: 7, threads: 1);
        Assert.Equal(acc, oneThread);
    }

    [Fact]
    public void WrappedPartialSumsStillGiveTheExactResult()
    {
        if (!Cpu.Supports(KernelPath.Avx2)) return;
        // 1,000 channels of 255 − 0 against weights of −128 and 127: |4·acc| reaches 1.1e9 and the transform's partial
        // sums of ±1,152 × ±1,020 products pass 2³¹ on the way.
        var g = new Conv2dGeometry(1, 1000, 4, 5, 7, 3, 3, Conv2dOptions.Square(1, 1));
        var rng = new Rng(5);
        var x = new byte[1000 * 20];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextInt(8) == 0 ? (byte)0 : (byte)255;
        var w = new sbyte[7 * 1000 * 9];
        for (int i = 0; i < w.Length; i++) w[i] = i / 9000 == 3 ? (sbyte)127 : (sbyte)-128;
        var (acc, y, expectedAcc, expectedY) = Run(g, x, 0, w, seed: 7, threads: 2);
        Assert.True(expectedAcc.Max(Math.Abs) > 200_000_000, "the case should reach the sums it is about");
        Assert.Equal(expectedAcc, acc);
        Assert.Equal(expectedY, y);
    }

    [Fact]
    public void QConv2dRunsItForThreeByThreeStrideOneLayersOnly()
    {
        Assert.True(QConv2dWinograd.Suits(new Conv2dGeometry(1, 64, 56, 56, 64, 3, 3, Conv2dOptions.Square(1, 1)), KernelPath.Avx2, Int8Dot.Pairs)
            == Cpu.Supports(KernelPath.Avx2));
        Assert.False(QConv2dWinograd.Suits(new Conv2dGeometry(1, 64, 56, 56, 64, 3, 3, Conv2dOptions.Square(2, 1)), KernelPath.Avx2, Int8Dot.Pairs));
        Assert.False(QConv2dWinograd.Suits(new Conv2dGeometry(1, 64, 56, 56, 64, 3, 3, Conv2dOptions.Square(1, 2, 2)), KernelPath.Avx2, Int8Dot.Pairs));
        Assert.False(QConv2dWinograd.Suits(new Conv2dGeometry(1, 64, 56, 56, 64, 5, 5, Conv2dOptions.Square(1, 2)), KernelPath.Avx2, Int8Dot.Pairs));
        Assert.False(QConv2dWinograd.Suits(new Conv2dGeometry(1, 64, 56, 56, 64, 3, 3, Conv2dOptions.Square(1, 1)), KernelPath.Avx2, Int8Dot.Quads));
        Assert.False(QConv2dWinograd.Suits(new Conv2dGeometry(1, 64, 56, 56, 64, 3, 3, Conv2dOptions.Square(1, 1)), KernelPath.Scalar, Int8Dot.Pairs));
        Assert.False(QConv2dWinograd.Suits(new Conv2dGeometry(1, 8, 56, 56, 64, 3, 3, Conv2dOptions.Square(1, 1)), KernelPath.Avx2, Int8Dot.Pairs));
        Assert.False(QConv2dWinograd.Suits(new Conv2dGeometry(1, 2000, 5, 5, 4, 3, 3, Conv2dOptions.Square(1, 1)), KernelPath.Avx2, Int8Dot.Pairs));
        Assert.False(QConv2dWinograd.Suits(new Conv2dGeometry(1, 64, 7, 7, 64, 3, 3, Conv2dOptions.Square(1, 1)), KernelPath.Avx2, Int8Dot.Pairs));
        Assert.True(QConv2dWinograd.Suits(new Conv2dGeometry(1, 512, 7, 7, 512, 3, 3, Conv2dOptions.Square(1, 1)), KernelPath.Avx2, Int8Dot.MaddubsQuads)
            == Cpu.Supports(KernelPath.Avx2));
    }

    // QConv2dWinograd.Forward itself (not through QConv2d, whose dispatch could pick another kernel), next to the reference.
    private static (int[] Acc, byte[] Y, int[] ExpectedAcc, byte[] ExpectedY) Run(Conv2dGeometry g, byte[] x, byte zx, sbyte[] w, ulong seed, int threads)
    {
        var rng = new Rng(seed);
        int m = g.OutChannels;
        var bias = new int[m];
        for (int o = 0; o < m; o++) bias[o] = rng.NextInt(200001) - 100000;
        var multiplier = new int[m]; var shift = new int[m];
        for (int o = 0; o < m; o++) Requantize.QuantizeMultiplier(0.00001 + 0.0005 * rng.NextDouble(), out multiplier[o], out shift[o]);
        var expected = QConv2dReference.Forward(g, x, zx, w, bias);
        var expectedY = QConv2dReference.Requantized(g, expected, multiplier, shift, 90, 3, 250);
        var packed = new PackedInt8Weights(QConv2d.ChannelsLastWeight(w, m, g.InChannels, 3, 3), m, g.ColumnRows);
        var acc = new int[expected.Length];
        var y = new byte[expected.Length];
        TransformerKernelsTests.WithThreads(threads, () =>
        {
            fixed (byte* px = x, py = y)
            fixed (int* pb = bias, pm = multiplier, ps = shift, pa = acc)
            {
                QConv2dWinograd.Forward(g, px, zx, packed, pb, null, null, 0, 0, 0, null, pa);
                QConv2dWinograd.Forward(g, px, zx, packed, pb, pm, ps, 90, 3, 250, py, null);
            }
            return 0;
        });
        return (acc, y, expected, expectedY);
    }
}
