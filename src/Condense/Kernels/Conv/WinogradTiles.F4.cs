// The F(4×4, 3×3) input and output transforms (WinogradTransform.F4) on 256-bit vectors whose 8 lanes are 8 tiles,
// for the AVX2 and AVX-512 paths (on Zen 4 a 512-bit operation costs two 256-bit ones, so the wider form would not be
// faster there; the GEMMs dominate in any case). Layouts as in WinogradTiles.Scalar.cs, the specification.
//   input   each lane loads its tile's 6 input rows (masked: padding and the image edge read as zero; whole rows and an
//           and where the loads stay inside the input, WinogradTilesF2.PlainLoadsStayInside), an 8×8 transpose
//           turns them into 6 column vectors per row, Bᵀ is applied along each row and then along each column:
//           r0 = 4d0 − 5d2 + d4, r1,2 = (d4 − 4d2) ± (d3 − 4d1), r3,4 = (d4 − d2) ± 2(d3 − d1), r5 = 4d1 − 5d3 + d5.
//   output  Aᵀ along each column of M and then along each row: o0 = m0 + (m1 + m2) + (m3 + m4),
//           o1 = (m1 − m2) + 2(m3 − m4), o2 = (m1 + m2) + 4(m3 + m4), o3 = (m1 − m2) + 8(m3 − m4) + m5; a 4×8 transpose
//           gives each lane its 4 outputs of a row, written with the epilogue (bias, residual, Relu).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Conv;

/// <summary>Vectorised F(4×4, 3×3) transforms over blocks of tiles, 8 tiles per vector.</summary>
internal static unsafe class WinogradTilesF4
{
    private const int BlockTiles = WinogradTilesScalar.BlockTiles, Alpha = 6, Side = 4;

    /// <summary>V for tiles t0 .. t0 + count − 1 of x (N, C, H, W), as <see cref="WinogradTilesScalar.Input"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization), SkipLocalsInit]
    public static void Input(in WinogradTiling s, float* x, int t0, int count, float* v, int nr)
    {
        var g = s.Geometry;
        int c = g.InChannels;
        long plane = (long)g.Height * g.Width, vXi = WinogradTilesScalar.VStride(c);
        // Component (i, j) of V is i·α + j strides on: rows i of the transform start rowI floats after row 0.
        long row1 = Alpha * vXi, row2 = 2 * row1, row3 = 3 * row1, row4 = 4 * row1, row5 = 5 * row1;
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
            WinogradTilesF2.LaneRows(s, t0 + lane0, Math.Min(8, count - lane0), Alpha, offsets, masks);
            bool plain = WinogradTilesF2.PlainLoadsStayInside(g, offsets, Alpha, 8);
            for (int ci = 0; ci < c; ci++)
            {
                float* p = x + ci * plane;
                for (int k = 0; k < Alpha; k++)
                {
                    long* o = offsets + k * 8;
                    var m = masks + k * 8;
                    Transpose(Load8(p + o[0], m[0], plain), Load8(p + o[1], m[1], plain), Load8(p + o[2], m[2], plain),
                        Load8(p + o[3], m[3], plain), Load8(p + o[4], m[4], plain), Load8(p + o[5], m[5], plain),
                        Load8(p + o[6], m[6], plain), Load8(p + o[7], m[7], plain),
                        out var d0, out var d1, out var d2, out var d3, out var d4, out var d5);
                    var e = rowsDone + k * Alpha;
                    InputT(d0, d1, d2, d3, d4, d5, out e[0], out e[1], out e[2], out e[3], out e[4], out e[5]);
                }
                float* column = group + (long)ci * nr;
                for (int j = 0; j < Alpha; j++, column += vXi)
                {
                    var e = rowsDone + j;
                    InputT(e[0], e[6], e[12], e[18], e[24], e[30], out var r0, out var r1, out var r2, out var r3, out var r4, out var r5);
                    r0.Store(column); r1.Store(column + row1); r2.Store(column + row2);
                    r3.Store(column + row3); r4.Store(column + row4); r5.Store(column + row5);
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
        long row1 = Alpha * xiStride, row2 = 2 * row1, row3 = 3 * row1, row4 = 4 * row1, row5 = 5 * row1;
        long* at = stackalloc long[8];
        int* validRows = stackalloc int[8], validCols = stackalloc int[8];
        var columnsDone = stackalloc Vector256<float>[Side * Alpha];
        for (int lane0 = 0; lane0 < count; lane0 += 8)
        {
            WinogradTilesF2.LaneOutputs(s, t0 + lane0, Math.Min(8, count - lane0), at, validRows, validCols);
            for (int k = 0; k < rows; k++)
            {
                float* source = mm + (long)k * BlockTiles + lane0;
                var b = bias is null ? Vector256<float>.Zero : Vector256.Create(bias[m0 + k]);
                long channel = (long)(m0 + k) * outPlane;
                float* column = source;
                for (int j = 0; j < Alpha; j++, column += xiStride)
                    OutputT(Vector256.Load(column), Vector256.Load(column + row1), Vector256.Load(column + row2),
                        Vector256.Load(column + row3), Vector256.Load(column + row4), Vector256.Load(column + row5),
                        out columnsDone[j], out columnsDone[Alpha + j], out columnsDone[2 * Alpha + j], out columnsDone[3 * Alpha + j]);
                for (int i = 0; i < Side; i++)
                {
                    var f = columnsDone + i * Alpha;
                    OutputT(f[0], f[1], f[2], f[3], f[4], f[5], out var o0, out var o1, out var o2, out var o3);
                    // Rows of 4 outputs per lane: lane l in the lower half of u[l], lane l + 4 in the upper half.
                    var t0v = Avx.UnpackLow(o0 + b, o1 + b); var t1v = Avx.UnpackHigh(o0 + b, o1 + b);
                    var t2v = Avx.UnpackLow(o2 + b, o3 + b); var t3v = Avx.UnpackHigh(o2 + b, o3 + b);
                    var u0 = Avx.Shuffle(t0v, t2v, 0x44); var u1 = Avx.Shuffle(t0v, t2v, 0xEE);
                    var u2 = Avx.Shuffle(t1v, t3v, 0x44); var u3 = Avx.Shuffle(t1v, t3v, 0xEE);
                    long row = channel + (long)i * ow;
                    Write(y, residual, row, at, validRows, validCols, i, 0, u0.GetLower(), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 1, u1.GetLower(), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 2, u2.GetLower(), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 3, u3.GetLower(), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 4, u0.GetUpper(), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 5, u1.GetUpper(), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 6, u2.GetUpper(), relu);
                    Write(y, residual, row, at, validRows, validCols, i, 7, u3.GetUpper(), relu);
                }
            }
        }
    }

    /// <summary>Row i of lane l's tile: its 4 outputs (fewer at the right edge) with the residual and the Relu.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(float* y, float* residual, long row, long* at, int* validRows, int* validCols, int i, int l,
        Vector128<float> value, bool relu)
    {
        if (i >= validRows[l]) return;
        long pos = row + at[l];
        if (validCols[l] == Side)
        {
            if (residual is not null) value += Vector128.Load(residual + pos);
            if (relu) value = Vector128.Max(value, Vector128<float>.Zero);
            value.Store(y + pos);
            return;
        }
        for (int j = 0; j < validCols[l]; j++)
            y[pos + j] = WinogradTilesScalar.Epilogue(value.GetElement(j), null, 0, residual, pos + j, relu);
    }

    // A tile row's 8 floats, the masked-off ones zero (WinogradTilesF2.PlainLoadsStayInside says when a plain load may run).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load8(float* p, Vector256<float> mask, bool plain) =>
        plain ? Vector256.Load(p) & mask : Avx.MaskLoad(p, mask);

    /// <summary>Columns 0..5 of the 8×8 matrix with rows r0..r7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
        out Vector256<float> c0, out Vector256<float> c1, out Vector256<float> c2, out Vector256<float> c3,
        out Vector256<float> c4, out Vector256<float> c5)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        c0 = Avx.Permute2x128(s0, s4, 0x20); c1 = Avx.Permute2x128(s1, s5, 0x20);
        c2 = Avx.Permute2x128(s2, s6, 0x20); c3 = Avx.Permute2x128(s3, s7, 0x20);
        c4 = Avx.Permute2x128(s0, s4, 0x31); c5 = Avx.Permute2x128(s1, s5, 0x31);
    }

    /// <summary>(r0..r5) = Bᵀ (d0..d5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputT(Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3,
        Vector256<float> d4, Vector256<float> d5, out Vector256<float> r0, out Vector256<float> r1, out Vector256<float> r2,
        out Vector256<float> r3, out Vector256<float> r4, out Vector256<float> r5)
    {
        var four = Vector256.Create(4f);
        var minusFive = Vector256.Create(-5f);
        r0 = Fma.MultiplyAdd(minusFive, d2, Fma.MultiplyAdd(four, d0, d4));
        var a = Fma.MultiplyAddNegated(four, d2, d4);
        var b = Fma.MultiplyAddNegated(four, d1, d3);
        r1 = a + b;
        r2 = a - b;
        var c = d4 - d2;
        var e = d3 - d1;
        e += e;
        r3 = c + e;
        r4 = c - e;
        r5 = Fma.MultiplyAdd(minusFive, d3, Fma.MultiplyAdd(four, d1, d5));
    }

    /// <summary>(o0..o3) = Aᵀ (m0..m5).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputT(Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3,
        Vector256<float> m4, Vector256<float> m5, out Vector256<float> o0, out Vector256<float> o1, out Vector256<float> o2,
        out Vector256<float> o3)
    {
        var p = m1 + m2;
        var q = m1 - m2;
        var s = m3 + m4;
        var u = m3 - m4;
        o0 = m0 + p + s;
        o1 = Fma.MultiplyAdd(Vector256.Create(2f), u, q);
        o2 = Fma.MultiplyAdd(Vector256.Create(4f), s, p);
        o3 = Fma.MultiplyAdd(Vector256.Create(8f), u, q) + m5;
    }
}
