// The strip form of the int8 1×1 convolution (QConv2dQuads.Strips.cs) against the naive loops of QConv2dReference, exactly:
// ragged last strips, output channels not a multiple of the tile's six, C not a multiple of 4 (the quads padded with zero
// weights), one image cut over 1, 2 and 3 threads by strips and, with few strips, by channel blocks; the int32 sums and
// the requantized codes, with a channel that shifts left and one whose multiplier is int.MinValue (RowRequantizer's
// general row) among the usual multipliers below 1. Every quad dot product this CPU runs is checked, called directly and
// through QConv2d with the dot forced; QConv2d picks the strips for exactly the pointwise layers, and switching them off
// changes the path, not the bits.
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Tests.Kernels;

public sealed unsafe class QConv2dStripsTests
{
    // (N, C, H, W, M, z_x)
    private static readonly (int N, int C, int H, int W, int M, byte Zx)[] Cases =
    [
        (1, 16, 8, 8, 13, 3),       // four whole strips, a ragged tile of one row
        (2, 8, 5, 7, 6, 128),       // 35 pixels: a last strip of 3
        (1, 12, 11, 13, 40, 255),   // 143 pixels: a last strip of 15
        (3, 20, 6, 6, 7, 0),
        (1, 64, 20, 20, 96, 9),     // above the parallel threshold: strips over the threads
        (1, 256, 7, 7, 160, 17),    // 49 pixels, four strips: channel blocks too
        (1, 6, 9, 9, 11, 5),        // C = 6: the second quad half zero (not vpmaddubsw's, which needs C % 4 = 0)
        (2, 5, 4, 10, 9, 77),
    ];

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < Cases.Length; i++) data.Add(i);
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseIndices))]
    public void StripsMatchTheNaiveLoops(int index)
    {
        var c = Cases[index];
        var g = new Conv2dGeometry(c.N, c.C, c.H, c.W, c.M, 1, 1, new Conv2dOptions());
        var rng = new Rng((ulong)(index + 500));
        var x = new byte[c.N * c.C * c.H * c.W];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextInt(3) switch { 0 => 0, 1 => 255, _ => (byte)rng.NextInt(256) };
        int m = c.M;
        var bias = Enumerable.Range(0, m).Select(_ => rng.NextInt(200001) - 100000).ToArray();
        var multiplier = new int[m]; var shift = new int[m];
        for (int o = 0; o < m; o++) Requantize.QuantizeMultiplier(0.0002 + 0.002 * rng.NextDouble(), out multiplier[o], out shift[o]);
        Requantize.QuantizeMultiplier(1.5, out multiplier[0], out shift[0]);
        Assert.True(shift[0] > 0);
        if (m > 1) (multiplier[1], shift[1]) = (int.MinValue, -18);
        foreach (var dot in new[] { Int8Dot.MaddubsQuads, Int8Dot.EmulatedQuads, Int8Dot.Quads })
        {
            if (!Cpu.Supports(dot)) continue;
            // vpmaddubsw is exact for 7-bit weights only (MaddubsDot4.PairIsExact); the others take any int8.
            var w = new sbyte[m * c.C];
            for (int i = 0; i < w.Length; i++)
                w[i] = (sbyte)(dot == Int8Dot.MaddubsQuads
                    ? rng.NextInt(3) switch { 0 => -64, 1 => 64, _ => rng.NextInt(129) - 64 }
                    : rng.NextInt(3) switch { 0 => -128, 1 => 127, _ => rng.NextInt(256) - 128 });
            var expected = QConv2dReference.Forward(g, x, c.Zx, w, bias);
            var expectedY = QConv2dReference.Requantized(g, expected, multiplier, shift, 90, 5, 250);
            foreach (int threads in new[] { 1, 2, 3 })
            {
                int? saved = Cpu.ThreadsOnThisThread;
                Cpu.ThreadsOnThisThread = threads;
                try
                {
                    var (acc, y) = Direct(dot, g, x, c.Zx, new PackedInt8Weights(w, m, c.C), bias, multiplier, shift);
                    Assert.Equal(expected, acc);
                    Assert.Equal(expectedY, y);
                    (acc, y) = ThroughQConv2d(dot, g, x, c.Zx, new PackedInt8Weights(w, m, c.C), bias, multiplier, shift, strips: true);
                    Assert.Equal(expected, acc);
                    Assert.Equal(expectedY, y);
                }
                finally { Cpu.ThreadsOnThisThread = saved; }
            }
        }
    }

    [Theory]
    [InlineData(16, 1, 0, 1, 8, 8, true)]
    [InlineData(16, 1, 1, 1, 8, 8, false)]   // padded
    [InlineData(16, 1, 0, 2, 8, 8, false)]   // stride 2
    [InlineData(16, 3, 1, 1, 8, 8, false)]   // 3×3
    [InlineData(3, 1, 0, 1, 8, 8, false)]    // fewer than 4 channels
    [InlineData(16, 1, 0, 1, 5, 6, false)]   // 30 pixels: under two strips
    public void PointwiseLayersTakeTheStrips(int channels, int kernel, int pad, int stride, int height, int width, bool strips)
    {
        var g = new Conv2dGeometry(1, channels, height, width, 8, kernel, kernel, Conv2dOptions.Square(stride, pad));
        var packed = new PackedInt8Weights(new sbyte[8 * g.ColumnRows], 8, g.ColumnRows);
        foreach (var dot in new[] { Int8Dot.MaddubsQuads, Int8Dot.EmulatedQuads, Int8Dot.Quads })
            Assert.Equal(strips, QConv2d.UsesStrips(g, KernelPath.Avx2, dot, packed));
        Assert.False(QConv2d.UsesStrips(g, KernelPath.Avx2, Int8Dot.Pairs, packed));
        bool saved = QConv2d.Strips;
        QConv2d.Strips = false;
        try { Assert.False(QConv2d.UsesStrips(g, KernelPath.Avx2, Int8Dot.MaddubsQuads, packed)); }
        finally { QConv2d.Strips = saved; }
    }

    [Fact]
    public void SwitchingTheStripsOffKeepsTheBits()
    {
        var g = new Conv2dGeometry(1, 32, 12, 12, 24, 1, 1, new Conv2dOptions());
        var rng = new Rng(9);
        var x = Enumerable.Range(0, g.InChannels * g.InPixels).Select(_ => (byte)rng.NextInt(256)).ToArray();
        var w = Enumerable.Range(0, g.OutChannels * g.InChannels).Select(_ => (sbyte)(rng.NextInt(129) - 64)).ToArray();
        var bias = Enumerable.Range(0, g.OutChannels).Select(_ => rng.NextInt(2001) - 1000).ToArray();
        var multiplier = new int[g.OutChannels]; var shift = new int[g.OutChannels];
        for (int o = 0; o < g.OutChannels; o++) Requantize.QuantizeMultiplier(0.001 + 0.0001 * o, out multiplier[o], out shift[o]);
        foreach (var dot in new[] { Int8Dot.MaddubsQuads, Int8Dot.EmulatedQuads, Int8Dot.Quads })
        {
            if (!Cpu.Supports(dot)) continue;
            var on = ThroughQConv2d(dot, g, x, 7, new PackedInt8Weights(w, g.OutChannels, g.InChannels), bias, multiplier, shift, strips: true);
            var off = ThroughQConv2d(dot, g, x, 7, new PackedInt8Weights(w, g.OutChannels, g.InChannels), bias, multiplier, shift, strips: false);
            Assert.Equal(off.Acc, on.Acc);
            Assert.Equal(off.Y, on.Y);
        }
    }

    private static (int[] Acc, byte[] Y) Direct(Int8Dot dot, Conv2dGeometry g, byte[] x, byte zx, PackedInt8Weights packed, int[] bias,
        int[] multiplier, int[] shift)
    {
        var acc = new int[g.Batch * g.OutChannels * g.OutPixels];
        var y = new byte[acc.Length];
        fixed (byte* px = x, py = y)
        fixed (int* pb = bias, pm = multiplier, ps = shift, pa = acc)
        {
            switch (dot)
            {
                case Int8Dot.MaddubsQuads:
                    QConv2dQuads<MaddubsDot4>.ForwardStrips(g, px, zx, packed, pb, null, null, 0, 0, 0, null, pa);
                    QConv2dQuads<MaddubsDot4>.ForwardStrips(g, px, zx, packed, pb, pm, ps, 90, 5, 250, py, null);
                    break;
                case Int8Dot.EmulatedQuads:
                    QConv2dQuads<EmulatedDot4>.ForwardStrips(g, px, zx, packed, pb, null, null, 0, 0, 0, null, pa);
                    QConv2dQuads<EmulatedDot4>.ForwardStrips(g, px, zx, packed, pb, pm, ps, 90, 5, 250, py, null);
                    break;
                default:
                    QConv2dQuads<VnniDot4>.ForwardStrips(g, px, zx, packed, pb, null, null, 0, 0, 0, null, pa);
                    QConv2dQuads<VnniDot4>.ForwardStrips(g, px, zx, packed, pb, pm, ps, 90, 5, 250, py, null);
                    break;
            }
        }
        return (acc, y);
    }

    private static (int[] Acc, byte[] Y) ThroughQConv2d(Int8Dot dot, Conv2dGeometry g, byte[] x, byte zx, PackedInt8Weights packed,
        int[] bias, int[] multiplier, int[] shift, bool strips)
    {
        var acc = new int[g.Batch * g.OutChannels * g.OutPixels];
        var y = new byte[acc.Length];
        bool saved = QConv2d.Strips;
        QConv2d.Strips = strips;
        try
        {
            using (Cpu.Force(dot))
            {
                QConv2d.Forward(g, x, zx, packed, bias, acc);
                QConv2d.ForwardRequantized(g, x, zx, packed, bias, multiplier, shift, 90, 5, 250, y);
            }
        }
        finally { QConv2d.Strips = saved; }
        return (acc, y);
    }
}
