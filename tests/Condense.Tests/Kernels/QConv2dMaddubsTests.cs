// The channel-quad int8 convolution with vpmaddubsw (QConv2dQuads<MaddubsDot4>, Int8Dot.MaddubsQuads, taken for C a multiple of
// 4) against the naive loops of QConv2dReference, exactly: 7-bit weights at ±64 with x at 0 and 255 on ragged shapes (stride,
// padding, dilation, rectangular kernels; C = 3 and 6 run the pair kernels), one image split over threads by output channels;
// a saturating (127, 127) inside a channel pair must send the layer to the pair kernels — the quad convolution run directly
// on it must be wrong, or that test proves nothing — and one across two pairs (channels 1 and 2) must not.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed class QConv2dMaddubsTests
{
    // (N, C, H, W, M, kH, kW, options, z_x)
    private static readonly (int N, int C, int H, int W, int M, int KH, int KW, Conv2dOptions O, byte Zx)[] Cases =
    [
        (1, 4, 15, 17, 13, 7, 7, Conv2dOptions.Square(2, 3), 0),
        (2, 8, 9, 8, 7, 3, 3, Conv2dOptions.Square(1, 1), 255),
        (2, 12, 7, 9, 17, 3, 2, new Conv2dOptions(StrideH: 2, PadTop: 1, PadLeft: 0, PadBottom: 1, PadRight: 1), 128),
        (1, 4, 6, 11, 20, 1, 3, new Conv2dOptions(PadLeft: 1, PadRight: 1, DilationW: 2), 7),
        (1, 16, 30, 31, 40, 3, 3, Conv2dOptions.Square(1, 1), 9),   // above the parallel threshold: channel blocks on two threads
        (1, 3, 15, 17, 13, 7, 7, Conv2dOptions.Square(2, 3), 3),    // ResNet's first layer in small: the pair kernels
        (2, 6, 7, 9, 17, 3, 2, new Conv2dOptions(StrideH: 2, PadTop: 1, PadLeft: 0, PadBottom: 1, PadRight: 1), 128),
    ];

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Cases.Length; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void SevenBitWeightsMatchTheNaiveLoops(int index)
    {
        var c = Cases[index];
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, c.M, c.KH, c.KW, c.O);
        var rng = new Rng((ulong)(index + 70));
        var x = new byte[c.N * c.C * c.H * c.W];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextInt(3) switch { 0 => 0, 1 => 255, _ => (byte)rng.NextInt(256) };
        var w = new sbyte[c.M * g.ColumnRows];
        for (int i = 0; i < w.Length; i++) w[i] = rng.NextInt(3) switch { 0 => -64, 1 => 64, _ => (sbyte)(rng.NextInt(129) - 64) };
        var packed = Pack(g, w);
        Assert.True(packed.PairSumsFitInt16);
        int? saved = Cpu.ThreadsOnThisThread;
        try
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Cpu.ThreadsOnThisThread = threads;
                AssertExact(g, x, c.Zx, w, packed, rng);
            }
        }
        finally { Cpu.ThreadsOnThisThread = saved; }
    }

    [Theory]
    [InlineData(2, false)]   // channels 2 and 3 of a tap: a pair, 255·254 saturates — the pair kernels must take the layer
    [InlineData(1, true)]    // channels 1 and 2 sit in two pairs, each 127 beside a 0: the quads stay exact
    public unsafe void OneSaturatingPairSendsTheLayerToThePairKernels(int channel, bool fits)
    {
        var g = new Conv2dGeometry(2, 8, 6, 7, 4, 2, 2, new Conv2dOptions());
        var rng = new Rng(13);
        var w = new sbyte[g.OutChannels * g.ColumnRows];
        for (int i = 0; i < w.Length; i++) w[i] = (sbyte)(rng.NextInt(129) - 64);
        // Row 1, tap 3, in the (tap, c) order of the packed matrix: k = 8·tap + c.
        int k = 8 * 3 + channel;
        w[At(g, 1, k - 1)] = w[At(g, 1, k + 2)] = 0;
        w[At(g, 1, k)] = w[At(g, 1, k + 1)] = 127;
        var packed = Pack(g, w);
        Assert.Equal(fits, packed.PairSumsFitInt16);
        var x = Enumerable.Repeat((byte)255, g.Batch * g.InChannels * g.InPixels).ToArray();
        AssertExact(g, x, 0, w, packed, rng);
        if (fits || !Cpu.Supports(Int8Dot.MaddubsQuads)) return;
        // The check is what keeps this exact: the quad convolution itself saturates on the pair.
        var expected = QConv2dReference.Forward(g, x, 0, w, []);
        var direct = new int[expected.Length];
        fixed (byte* px = x)
        fixed (int* pa = direct)
            QConv2dQuads<MaddubsDot4>.Forward(g, px, 0, packed, null, null, null, 0, 0, 0, null, pa);
        Assert.NotEqual(expected, direct);
    }

    /// <summary>Index in the (M, C, kH, kW) weight of input k = tap·C + c of the packed row o.</summary>
    private static int At(Conv2dGeometry g, int o, int k)
    {
        int taps = g.KernelH * g.KernelW;
        return (o * g.InChannels + k % g.InChannels) * taps + k / g.InChannels;
    }

    private static PackedInt8Weights Pack(Conv2dGeometry g, sbyte[] w) =>
        new(QConv2d.ChannelsLastWeight(w, g.OutChannels, g.InChannels, g.KernelH, g.KernelW), g.OutChannels, g.ColumnRows);

    /// <summary>Accumulators and requantized codes with the vpmaddubsw quads forced (when AVX2 exists) equal the reference's.</summary>
    private static void AssertExact(Conv2dGeometry g, byte[] x, byte zx, sbyte[] w, PackedInt8Weights packed, Rng rng)
    {
        int m = g.OutChannels;
        var bias = Enumerable.Range(0, m).Select(_ => rng.NextInt(200001) - 100000).ToArray();
        var multiplier = new int[m]; var shift = new int[m];
        for (int o = 0; o < m; o++) Requantize.QuantizeMultiplier(0.0002 + 0.002 * rng.NextDouble(), out multiplier[o], out shift[o]);
        var expected = QConv2dReference.Forward(g, x, zx, w, bias);
        var expectedY = QConv2dReference.Requantized(g, expected, multiplier, shift, 90, 90, 250);
        var acc = new int[expected.Length]; var y = new byte[expected.Length];
        using (Cpu.Supports(Int8Dot.MaddubsQuads) ? Cpu.Force(Int8Dot.MaddubsQuads) : null)
        using (QConv2dWinograd.Force(false))   // the quad kernels; QConv2dWinogradTests has Winograd's
        {
            QConv2d.Forward(g, x, zx, packed, bias, acc);
            QConv2d.ForwardRequantized(g, x, zx, packed, bias, multiplier, shift, 90, 90, 250, y);
        }
        Assert.Equal(expected, acc);
        Assert.Equal(expectedY, y);
    }
}
