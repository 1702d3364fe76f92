// The channels-in-lanes form of the int8 depthwise convolution (QDepthwiseConv2d.cs), after the fp32 Conv2dDepthwise.Lanes:
// eight consecutive channels of one image are transposed, row by row, into a padded pixel-major byte row (eight codes a
// pixel, the border holding z_x), and from it into a buffer of tap pairs, one vector per padded pixel p:
//   pairs[p] = [x(p, c), x(p + dW, c)] for c = 0 .. 7, sixteen int16 (the border rows z_x too),
// so one vpmaddwd against the weights interleaved the same way sums taps (kh, kw) and (kh, kw + 1) of the eight channels
// into int32, an odd last tap of a row paired with a zero weight: a 3×3 window is six vpmaddwd per output pixel, one
// load each whatever the stride or dilation. The zero point moves into the start value: Σ (x − z_x)·w = Σ x·w − z_x·Σ w,
// with x = z_x on the border; int32 arithmetic wraps, giving the bits of the reference's sum truncated to int32. The
// products are exact: x ≤ 255 and |w| ≤ 128, so a pair sums to at most 65280. Only the pair columns some window starts a
// pair at are built (the even ones at stride 2); pair rows are built as the output rows first need them, so the rows in
// use stay in cache. Output: QDepthwiseConv2d.LaneOutput.cs.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

public static unsafe partial class QDepthwiseConv2d
{
    /// <summary>Channels per vector in the channels-in-lanes form.</summary>
    private const int Lanes = 8;

    [ThreadStatic] private static bool? t_forceLanes;

    /// <summary>
    /// Forces the channels-in-lanes and channels-last kernels off (false) for tests and benchmarks; null or true: wherever they
    /// can run. Per thread (read on the calling thread), so tests running at the same time keep their forms.
    /// </summary>
    internal static bool? ForceLanes { get => t_forceLanes; set => t_forceLanes = value; }

    /// <summary>Channels in lanes needs AVX2, one output channel per input channel and at least one full block of eight.</summary>
    private static bool UsesLanes(KernelPath path, Conv2dGeometry g) =>
        path != KernelPath.Scalar && Avx2.IsSupported && g.OutChannels == g.InChannels && g.InChannels >= Lanes && (ForceLanes ?? true);

    private static int LaneBlocks(Conv2dGeometry g) => (g.InChannels + Lanes - 1) / Lanes;

    /// <summary>Tap pairs per kernel row: ⌈kW / 2⌉.</summary>
    private static int PairsPerRow(Conv2dGeometry g) => (g.KernelW + 1) / 2;

    [ThreadStatic] private static byte[]? t_laneRow, t_laneCodes;
    [ThreadStatic] private static short[]? t_lanePairs, t_laneWeights;
    [ThreadStatic] private static int[]? t_laneSums, t_laneColumns;

    /// <summary>
    /// A thread's buffers for one call: the byte row (border z_x), the pair buffer (border rows z_x), the block's int32 sums
    /// (accumulators) or its output codes, the interleaved weights and the pair columns.
    /// </summary>
    private readonly struct LaneBuffers
    {
        public LaneBuffers(Conv2dGeometry g, byte xZeroPoint, bool accumulators)
        {
            var o = g.Options;
            PaddedWidth = g.Width + o.PadLeft + o.PadRight;
            int paddedHeight = g.Height + o.PadTop + o.PadBottom;
            // The row reaches dW pixels past the padded width (the partner of an odd last tap) and 8 more for a row's tail.
            int rowPixels = PaddedWidth + o.DilationW + Lanes;
            Row = AlignedBuffer.Of(ref t_laneRow, rowPixels * Lanes);
            new Span<byte>(Row, rowPixels * Lanes).Fill(xZeroPoint);
            int pairRow = PaddedWidth * 2 * Lanes;
            Pairs = AlignedBuffer.Of(ref t_lanePairs, checked(paddedHeight * pairRow));
            new Span<short>(Pairs, o.PadTop * pairRow).Fill(xZeroPoint);
            new Span<short>(Pairs + (o.PadTop + g.Height) * pairRow, o.PadBottom * pairRow).Fill(xZeroPoint);
            Sums = accumulators ? AlignedBuffer.Of(ref t_laneSums, checked(g.OutPixels * Lanes)) : null;
            Codes = accumulators ? null : AlignedBuffer.Of(ref t_laneCodes, checked(g.OutPixels * Lanes));
            Weights = AlignedBuffer.Of(ref t_laneWeights, g.KernelH * PairsPerRow(g) * 2 * Lanes);
            Columns = AlignedBuffer.Of(ref t_laneColumns, PaddedWidth);
            ColumnCount = PairColumns(g, Columns);
        }

        public int PaddedWidth { get; }
        public byte* Row { get; }
        public short* Pairs { get; }
        public int* Sums { get; }
        public byte* Codes { get; }
        public short* Weights { get; }
        public int* Columns { get; }
        public int ColumnCount { get; }
    }

    // The padded columns j = ox·sW + kw·dW (kw even) a pair is loaded from, ascending; returns how many.
    private static int PairColumns(Conv2dGeometry g, int* columns)
    {
        var o = g.Options;
        int width = g.Width + o.PadLeft + o.PadRight;
        var used = new bool[width];
        for (int ox = 0; ox < g.OutWidth; ox++)
            for (int kw = 0; kw < g.KernelW; kw += 2) used[ox * o.StrideW + kw * o.DilationW] = true;
        int count = 0;
        for (int j = 0; j < width; j++)
            if (used[j]) columns[count++] = j;
        return count;
    }

    /// <summary>Channels c0 .. c0 + 7 of image n (c0 + 8 ≤ C, one output channel per input channel).</summary>
    private static void LaneBlock(Conv2dGeometry g, in LaneBuffers buffers, int n, int c0, byte* x, byte xZeroPoint, sbyte* w, int* bias,
        in LaneOutput output, bool channelsLast)
    {
        int taps = g.KernelH * g.KernelW;
        InterleaveWeights(w + (long)c0 * taps, g.KernelH, g.KernelW, PairsPerRow(g), buffers.Weights);
        var start = bias is null ? Vector256<int>.Zero : Vector256.Load(bias + c0);
        start -= Vector256.Create((int)xZeroPoint) * TapSums(w + (long)c0 * taps, taps);
        byte* source = channelsLast ? x + (long)n * g.InPixels * g.InChannels + c0 : x + ((long)n * g.InChannels + c0) * g.InPixels;
        byte* end = x + (long)g.Batch * g.InChannels * g.InPixels;
        if (buffers.Codes is null) Rows(g, buffers, source, end, channelsLast, start, new SumsSink(buffers.Sums));
        else Rows(g, buffers, source, end, channelsLast, start, output.Codes(c0, buffers.Codes));
        output.Write(g, n, c0, buffers.Codes, buffers.Sums);
    }

    // Every output row of the block into the sink, each after the pair rows (padded) up to the last one it reads are built
    // from the eight planes at `source` (or, channels-last, from the eight channels at `source` of each pixel); the border
    // rows stay z_x. `end` is the end of x.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows<TSink>(Conv2dGeometry g, in LaneBuffers buffers, byte* source, byte* end, bool channelsLast, Vector256<int> start,
        TSink sink) where TSink : struct, ILaneSink
    {
        var o = g.Options;
        int wp = buffers.PaddedWidth, pairs = PairsPerRow(g);
        int built = 0;
        for (int oy = 0; oy < g.OutHeight; oy++)
        {
            for (int need = oy * o.StrideH + (g.KernelH - 1) * o.DilationH + 1; built < need; built++)
            {
                int iy = built - o.PadTop;
                if ((uint)iy >= (uint)g.Height) continue;
                if (channelsLast) GatherRowIn(source + (long)iy * g.Width * g.InChannels, g.InChannels, g.Width, buffers.Row + o.PadLeft * Lanes);
                else TransposeRowIn(source + (long)iy * g.Width, g.InPixels, g.Width, end, buffers.Row + o.PadLeft * Lanes);
                BuildPairs(buffers.Row, o.DilationW, buffers.Columns, buffers.ColumnCount, buffers.Pairs + (long)built * wp * 2 * Lanes);
            }
            SumRow(g, buffers.Pairs + (long)oy * o.StrideH * wp * 2 * Lanes, wp, pairs, buffers.Weights, start, oy * g.OutWidth, ref sink);
        }
    }

    // Σ_t w[c0 + i, t] for the eight channels.
    private static Vector256<int> TapSums(sbyte* w, int taps)
    {
        var sums = stackalloc int[Lanes];
        for (int i = 0; i < Lanes; i++)
            for (int t = 0; t < taps; t++) sums[i] += w[(long)i * taps + t];
        return Vector256.Load(sums);
    }

    // weights[((kh·pairs + p)·8 + i)·2 + e] = w[c0 + i, kh, 2p + e], zero where 2p + e = kW (an odd last tap's partner).
    private static void InterleaveWeights(sbyte* w, int kernelH, int kernelW, int pairs, short* weights)
    {
        int taps = kernelH * kernelW;
        for (int kh = 0; kh < kernelH; kh++)
            for (int p = 0; p < pairs; p++)
                for (int i = 0; i < Lanes; i++)
                    for (int e = 0; e < 2; e++)
                    {
                        int kw = 2 * p + e;
                        weights[((kh * pairs + p) * Lanes + i) * 2 + e] = kw < kernelW ? w[(long)i * taps + kh * kernelW + kw] : (short)0;
                    }
    }

    // Eight channels of a channels-last row (pixel stride `channels`, w pixels) into the pixel-major byte row `to`.
    private static void GatherRowIn(byte* from, int channels, int w, byte* to)
    {
        for (int ix = 0; ix < w; ix++) ((ulong*)to)[ix] = *(ulong*)(from + (long)ix * channels);
    }

    // One row of eight planes (plane stride `plane`, w pixels) into the pixel-major byte row `to` (eight bytes a pixel).
    // A row's last < 8 pixels go through an 8×8 transpose that reads past the row's end when that stays inside x.
    private static void TransposeRowIn(byte* from, int plane, int w, byte* end, byte* to)
    {
        int ix = 0;
        for (; ix + Lanes <= w; ix += Lanes) Transpose8x8(from + ix, plane, to + ix * Lanes, Lanes);
        int tail = w - ix;
        if (tail == 0) return;
        if (from + 7L * plane + ix + Lanes <= end)
        {
            ulong* block = stackalloc ulong[Lanes];
            Transpose8x8(from + ix, plane, (byte*)block, Lanes);
            for (int j = 0; j < tail; j++) ((ulong*)to)[ix + j] = block[j];
        }
        else
            for (int j = 0; j < tail; j++)
                for (int i = 0; i < Lanes; i++) to[(ix + j) * Lanes + i] = from[(long)i * plane + ix + j];
    }

    /// <summary>to[j·ld + i] = from[i·ls + j] for an 8×8 block of bytes (punpck in three rounds, then 8-byte stores).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(byte* from, long ls, byte* to, long ld)
    {
        var r01 = Sse2.UnpackLow(Row8(from), Row8(from + ls));           // bytes [r0(j), r1(j)] for j = 0 .. 7
        var r23 = Sse2.UnpackLow(Row8(from + 2 * ls), Row8(from + 3 * ls));
        var r45 = Sse2.UnpackLow(Row8(from + 4 * ls), Row8(from + 5 * ls));
        var r67 = Sse2.UnpackLow(Row8(from + 6 * ls), Row8(from + 7 * ls));
        var a = Sse2.UnpackLow(r01.AsInt16(), r23.AsInt16()).AsInt32();   // [r0 .. r3 (j)] for j = 0 .. 3
        var b = Sse2.UnpackHigh(r01.AsInt16(), r23.AsInt16()).AsInt32();  // j = 4 .. 7
        var c = Sse2.UnpackLow(r45.AsInt16(), r67.AsInt16()).AsInt32();
        var d = Sse2.UnpackHigh(r45.AsInt16(), r67.AsInt16()).AsInt32();
        Store2(Sse2.UnpackLow(a, c), to, ld);                               // columns 0 and 1, each r0 .. r7
        Store2(Sse2.UnpackHigh(a, c), to + 2 * ld, ld);
        Store2(Sse2.UnpackLow(b, d), to + 4 * ld, ld);
        Store2(Sse2.UnpackHigh(b, d), to + 6 * ld, ld);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Row8(byte* p) => Sse2.LoadScalarVector128((long*)p).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store2(Vector128<int> v, byte* to, long ld)
    {
        Sse2.StoreScalar((long*)to, v.AsInt64());
        Sse2.StoreHigh((double*)(to + ld), v.AsDouble());
    }

    // pairs[j] = [row(j, c), row(j + dW, c)] (c = 0 .. 7, sixteen int16) for the listed columns j.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BuildPairs(byte* row, int dilation, int* columns, int count, short* pairs)
    {
        for (int k = 0; k < count; k++)
        {
            int j = columns[k];
            var both = Sse2.UnpackLow(Row8(row + j * Lanes), Row8(row + (j + dilation) * Lanes));
            Avx2.ConvertToVector256Int16(both).Store(pairs + j * 2 * Lanes);   // vpmovzxbw
        }
    }

    // sink ← start[i] + Σ_{kh, p} vpmaddwd(pairs at row kh·dH, column ox·sW + 2p·dW; weights[kh, p]) for output pixel ox of
    // the row (pixel `first` + ox of the plane), four pixels at a time, a last group of four moved back to end at the row's
    // end (the pixels it shares with the one before are written twice, with the same values); `pairs` starts at the output
    // row's first padded row. The sink stores the int32 sums or requantizes them on the spot.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SumRow<TSink>(Conv2dGeometry g, short* pairs, int wp, int pairsPerRow, short* weights, Vector256<int> start, int first,
        ref TSink sink) where TSink : struct, ILaneSink
    {
        var o = g.Options;
        int ow = g.OutWidth, kh = g.KernelH;
        int step = o.StrideW * 2 * Lanes, rowStep = o.DilationH * wp * 2 * Lanes, pairStep = 2 * o.DilationW * 2 * Lanes;
        int ox = 0;
        for (; ox < ow && ow >= 4; ox += 4)
        {
            if (ox + 4 > ow) ox = ow - 4;
            var (s0, s1, s2, s3) = (start, start, start, start);
            short* weight = weights;
            for (int r = 0; r < kh; r++)
            {
                short* p = pairs + r * rowStep + ox * step;
                for (int c = 0; c < pairsPerRow; c++, p += pairStep, weight += 2 * Lanes)
                {
                    var wt = Vector256.Load(weight);
                    s0 += Avx2.MultiplyAddAdjacent(Vector256.Load(p), wt);
                    s1 += Avx2.MultiplyAddAdjacent(Vector256.Load(p + step), wt);
                    s2 += Avx2.MultiplyAddAdjacent(Vector256.Load(p + 2 * step), wt);
                    s3 += Avx2.MultiplyAddAdjacent(Vector256.Load(p + 3 * step), wt);
                }
            }
            sink.Four(first + ox, s0, s1, s2, s3);
        }
        for (; ox < ow; ox++)
        {
            var s = start;
            short* weight = weights;
            for (int r = 0; r < kh; r++)
            {
                short* p = pairs + r * rowStep + ox * step;
                for (int c = 0; c < pairsPerRow; c++, p += pairStep, weight += 2 * Lanes)
                    s += Avx2.MultiplyAddAdjacent(Vector256.Load(p), Vector256.Load(weight));
            }
            sink.One(first + ox, s);
        }
    }
}
