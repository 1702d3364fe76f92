// The F(2×2, 3×3) input and output transforms (WinogradTransform.F2) on 256-bit vectors whose 8 lanes are 8 tiles,
// and the per-lane tile geometry both vector transforms share. Layouts as in WinogradTiles.Scalar.cs, the specification.
//   input   each lane loads its tile's 4 input rows (masked: padding and the image edge read as zero), lanes l and l + 4
//           share a vector and a 4×4 transpose per 128-bit half gives the columns; Bᵀ along rows, then columns:
//           r0 = d0 − d2, r1 = d1 + d2, r2 = d2 − d1, r3 = d1 − d3.
//   output  Aᵀ along columns of M, then rows: o0 = m0 + m1 + m2, o1 = m1 − m2 − m3; each lane writes its 2 outputs per row.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Conv;

/// <summary>Vectorised F(2×2, 3×3) transforms over blocks of tiles, 8 tiles per vector.</summary>
internal static unsafe class WinogradTilesF2
{
    private const int BlockTiles = WinogradTilesScalar.BlockTiles, Alpha = 4, Side = 2;

    /// <summary>V for tiles t0 .. t0 + count − 1 of x (N, C, H, W), as <see cref="WinogradTilesScalar.Input"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    public static void Input(in WinogradTiling s, float* x, int t0, int count, float* v, int nr)
    {
        var g = s.Geometry;
        int c = g.InChannels;
        long plane = (long)g.Height * g.Width, vXi = WinogradTilesScalar.VStride(c);
        long row1 = Alpha * vXi, row2 = 2 * row1, row3 = 3 * row1;
        long* offsets = stackalloc long[Alpha * 8];
        var masks = stackalloc Vector256<float>[Alpha * 8];
        var rowsDone = stackalloc Vector256<float>[Alpha * Alpha];
        for (int lane0 = 0; lane0 < BlockTiles; lane0 += 8)
        {
            float* group = v + (long)(lane0 / nr) * c * nr + lane0 % nr;
            if (lane0 >= count)
            {
                for (int xi = 0; xi < Alpha * Alpha; xi++)
                    for (int ci = 0; ci < c; ci++) Vector256<float>.Zero.Store(group + xi * vXi + (long)ci * nr);
                continue;
            }
            LaneRows(s, t0 + lane0, Math.Min(8, count - lane0), Alpha, offsets, masks);
            bool plain = PlainLoadsStayInside(g, offsets, Alpha, 4);
            for (int ci = 0; ci < c; ci++)
            {
                float* p = x + ci * plane;
                for (int k = 0; k < Alpha; k++)
                {
                    long* o = offsets + k * 8;
                    var m = masks + k * 8;
                    var w0 = Vector256.Create(Load4(p + o[0], m[0], plain), Load4(p + o[4], m[4], plain));
                    var w1 = Vector256.Create(Load4(p + o[1], m[1], plain), Load4(p + o[5], m[5], plain));
                    var w2 = Vector256.Create(Load4(p + o[2], m[2], plain), Load4(p + o[6], m[6], plain));
                    var w3 = Vector256.Create(Load4(p + o[3], m[3], plain), Load4(p + o[7], m[7], plain));
                    var t0v = Avx.UnpackLow(w0, w1); var t1v = Avx.UnpackHigh(w0, w1);
                    var t2v = Avx.UnpackLow(w2, w3); var t3v = Avx.UnpackHigh(w2, w3);
                    var e = rowsDone + k * Alpha;
                    InputT(Avx.Shuffle(t0v, t2v, 0x44), Avx.Shuffle(t0v, t2v, 0xEE), Avx.Shuffle(t1v, t3v, 0x44), Avx.Shuffle(t1v, t3v, 0xEE),
                        out e[0], out e[1], out e[2], out e[3]);
                }
                float* column = group + (long)ci * nr;
                for (int j = 0; j < Alpha; j++, column += vXi)
                {
                    var e = rowsDone + j;
                    InputT(e[0], e[4], e[8], e[12], out var r0, out var r1, out var r2, out var r3);
                    r0.Store(column); r1.Store(column + row1); r2.Store(column + row2); r3.Store(column + row3);
                }
            }
        }
    }

    /// <summary>
    /// y for tiles t0 .. t0 + count − 1 and output channels m0 .. m0 + rows − 1 from M, as
    /// <see cref="WinogradTilesScalar.Output"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    public static void Output(in WinogradTiling s, float* mm, int rows, int m0, int t0, int count, float* bias, float* y,
        float* residual, bool relu)
    {
        var g = s.Geometry;
        int ow = g.OutWidth;
        long outPlane = (long)g.OutHeight * ow, xiStride = WinogradTilesScalar.MStride(rows);
        long row1 = Alpha * xiStride, row2 = 2 * row1, row3 = 3 * row1;
        long* at = stackalloc long[8];
        int* validRows = stackalloc int[8], validCols = stackalloc int[8];
        var columnsDone = stackalloc Vector256<float>[Side * Alpha];
        for (int lane0 = 0; lane0 < count; lane0 += 8)
        {
            LaneOutputs(s, t0 + lane0, Math.Min(8, count - lane0), at, validRows, validCols);
            for (int k = 0; k < rows; k++)
            {
                float* source = mm + (long)k * BlockTiles + lane0;
                var b = bias is null ? Vector256<float>.Zero : Vector256.Create(bias[m0 + k]);
                long channel = (long)(m0 + k) * outPlane;
                float* column = source;
                for (int j = 0; j < Alpha; j++, column += xiStride)
                    OutputT(Vector256.Load(column), Vector256.Load(column + row1), Vector256.Load(column + row2), Vector256.Load(column + row3),
                        out columnsDone[j], out columnsDone[Alpha + j]);
                for (int i = 0; i < Side; i++)
                {
                    var f = columnsDone + i * Alpha;
                    OutputT(f[0], f[1], f[2], f[3], out var o0, out var o1);
                    // Pairs: lanes 0, 1 | 4, 5 in t0v, lanes 2, 3 | 6, 7 in t1v.
                    var t0v = Avx.UnpackLow(o0 + b, o1 + b);
                    var t1v = Avx.UnpackHigh(o0 + b, o1 + b);
                    long row = channel + (long)i * ow;
                    var (lo0, lo1, hi0, hi1) = (t0v.GetLower(), t1v.GetLower(), t0v.GetUpper(), t1v.GetUpper());
                    Write(y, residual, row, at, validRows, validCols, i, 0, lo0, relu);
                    Write(y, residual, row, at, validRows, validCols, i, 1, Sse.MoveHighToLow(lo0, lo0), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 2, lo1, relu);
                    Write(y, residual, row, at, validRows, validCols, i, 3, Sse.MoveHighToLow(lo1, lo1), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 4, hi0, relu);
                    Write(y, residual, row, at, validRows, validCols, i, 5, Sse.MoveHighToLow(hi0, hi0), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 6, hi1, relu);
                    Write(y, residual, row, at, validRows, validCols, i, 7, Sse.MoveHighToLow(hi1, hi1), relu);
                }
            }
        }
    }

    /// <summary>
    /// True when a plain load of <paramref name="width"/> floats at every row offset of the lanes (<paramref name="rows"/>
    /// rows of 8), in every channel's plane, stays inside the input (N, C, H, W): then the transforms load whole rows and
    /// clear the masked-off floats with an and (identical bits: a zero mask lane gives +0), where a masked load (vmaskmovps)
    /// cost about half again as much on Zen 5 (the F(4×4) input transform: 26–32 → 16–19 ns per tile and channel at 28×28 and
    /// 14×14, batch 256). Only lanes at the very start or end of the input need the masked loads.
    /// </summary>
    public static bool PlainLoadsStayInside(Conv2dGeometry g, long* offsets, int rows, int width)
    {
        long plane = (long)g.Height * g.Width, last = (g.InChannels - 1) * plane, end = g.Batch * g.InChannels * plane;
        for (int i = 0; i < rows * 8; i++)
            if (offsets[i] < 0 || last + offsets[i] + width > end) return false;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Load4(float* p, Vector256<float> mask, bool plain) =>
        plain ? Vector128.Load(p) & mask.GetLower() : Avx.MaskLoad(p, mask.GetLower());

    /// <summary>
    /// For lanes l &lt; 8 (tiles tFirst + l, the first <paramref name="lanes"/> real): where input row k of the tile starts,
    /// offsets[k·8 + l] (from the start of channel 0 of x), and which of its first α columns lie in the image,
    /// masks[k·8 + l] (all lanes off for a row outside the image or a lane past the tiles, whose offset is then 0).
    /// </summary>
    public static void LaneRows(in WinogradTiling s, int tFirst, int lanes, int alpha, long* offsets, Vector256<float>* masks)
    {
        var g = s.Geometry;
        int side = s.Transform.Output, h = g.Height, w = g.Width;
        var index = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        var firstColumns = Vector256.LessThan(index, Vector256.Create(alpha));
        for (int l = 0; l < 8; l++)
        {
            var (n, ty, tx) = l < lanes ? s.Locate(tFirst + l) : (0, 0, 0);
            int y0 = ty * side - g.Options.PadTop, x0 = tx * side - g.Options.PadLeft;
            // Columns x0 + j with j < α and 0 ≤ x0 + j < w (as unsigned: one comparison).
            var inImage = Vector256.LessThan((index + Vector256.Create(x0)).AsUInt32(), Vector256.Create((uint)w)).AsInt32();
            var columnMask = (inImage & firstColumns).AsSingle();
            for (int k = 0; k < alpha; k++)
            {
                bool inside = l < lanes && y0 + k >= 0 && y0 + k < h;
                offsets[k * 8 + l] = inside ? ((long)n * g.InChannels * h + y0 + k) * w + x0 : 0;
                masks[k * 8 + l] = inside ? columnMask : Vector256<float>.Zero;
            }
        }
    }

    /// <summary>
    /// For lanes l &lt; 8 (tiles tFirst + l, the first <paramref name="lanes"/> real): where the tile's first output lies,
    /// at[l] (from the start of channel 0 of y), and how many of its rows and columns lie in the output (0 rows past the tiles).
    /// </summary>
    public static void LaneOutputs(in WinogradTiling s, int tFirst, int lanes, long* at, int* validRows, int* validCols)
    {
        var g = s.Geometry;
        int side = s.Transform.Output;
        for (int l = 0; l < 8; l++)
        {
            if (l >= lanes) { at[l] = 0; validRows[l] = validCols[l] = 0; continue; }
            var (n, ty, tx) = s.Locate(tFirst + l);
            at[l] = (long)n * g.OutChannels * g.OutHeight * g.OutWidth + (long)ty * side * g.OutWidth + tx * side;
            validRows[l] = Math.Min(side, g.OutHeight - ty * side);
            validCols[l] = Math.Min(side, g.OutWidth - tx * side);
        }
    }

    /// <summary>Row i of lane l's tile: its 2 outputs (in the low half of value; 1 at the right edge) with the residual and the Relu.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(float* y, float* residual, long row, long* at, int* validRows, int* validCols, int i, int l,
        Vector128<float> value, bool relu)
    {
        if (i >= validRows[l]) return;
        long pos = row + at[l];
        if (validCols[l] == Side)
        {
            if (residual is not null) value += Sse2.LoadScalarVector128((double*)(residual + pos)).AsSingle();
            if (relu) value = Vector128.Max(value, Vector128<float>.Zero);
            Sse2.StoreScalar((double*)(y + pos), value.AsDouble());
            return;
        }
        y[pos] = WinogradTilesScalar.Epilogue(value.GetElement(0), null, 0, residual, pos, relu);
    }

    /// <summary>(r0..r3) = Bᵀ (d0..d3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputT(Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3,
        out Vector256<float> r0, out Vector256<float> r1, out Vector256<float> r2, out Vector256<float> r3)
    {
        r0 = d0 - d2;
        r1 = d1 + d2;
        r2 = d2 - d1;
        r3 = d1 - d3;
    }

    /// <summary>(o0, o1) = Aᵀ (m0..m3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputT(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3,
        out Vector256<float> o0, out Vector256<float> o1)
    {
        o0 = m0 + m1 + m2;
        o1 = m1 - m2 - m3;
    }
}
