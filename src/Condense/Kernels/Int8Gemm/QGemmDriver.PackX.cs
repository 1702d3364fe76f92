// Packing the uint8 activations for the int8 micro-kernels: each row widened to int16 pairs (vpmovzxbw, 32
// bytes at a time) or, for the vpdpbusd kernels, copied as uint8 quads (zero-padded to a multiple of 4), and
// the rows of each full MR-row tile transposed into the kernel's interleaved layout
// with the fp32 GEMM's register transposes (pure shuffles, so the int32 bits pass through unchanged). Element
// by element this took about a tenth of a 256×784×300 int8 product (measured: 100 µs of ~900 on one core).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

internal static unsafe partial class QGemmDriver<TKernel>
{
    /// <summary>
    /// X (m × k uint8) as groups, one int32 per group: int16 pairs (low half x[i, 2p], high half x[i, 2p+1]) or uint8
    /// quads (byte b is x[i, 4p+b]), 0 past k. Rows of the full MR-row tiles are interleaved, group p of tile row r at
    /// [tile·MR·kGroups + p·MR + r]; the m mod MR rows after them are one-row tiles, row i at [i·kGroups + p]. Either
    /// way row i starts at i·kGroups, so rows [m0, m1) (m0 a multiple of MR) can be packed separately, by the thread
    /// that multiplies them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackX(int m, int k, int kGroups, byte* x, int* packed, int m0, int m1)
    {
        if (TKernel.Layout == QGemmLayout.Quads) { PackQuads(m, k, kGroups, x, packed, m0, m1); return; }
        int kPairs = kGroups;
        int mr = TKernel.MR, full = m / mr * mr;
        if (TKernel.Path == KernelPath.Scalar)
        {
            for (int i = m0; i < m1; i++)
            {
                int height = i < full ? mr : 1;
                int* dst = i < full ? packed + (long)(i / mr * mr) * kPairs + i % mr : packed + (long)i * kPairs;
                WidenRowScalar(x + (long)i * k, k, kPairs, dst, height, 0);
            }
            return;
        }
        int* rows = QBuffers.ForThisThread.Rows(mr * kPairs);
        int t = m0;
        for (; t + mr <= Math.Min(m1, full); t += mr)
        {
            for (int r = 0; r < mr; r++) WidenRow(x + (long)(t + r) * k, k, kPairs, rows + r * kPairs);
            GemmPack.TransposePanelAvx((float*)rows, kPairs, kPairs, mr, mr, (float*)(packed + (long)t * kPairs));
        }
        for (int i = t; i < m1; i++) WidenRow(x + (long)i * k, k, kPairs, packed + (long)i * kPairs);
    }

    /// <summary>The quad form of <see cref="PackX"/>: rows copied as bytes, zero-padded, then transposed as int32.</summary>
    private static void PackQuads(int m, int k, int kQuads, byte* x, int* packed, int m0, int m1)
    {
        int mr = TKernel.MR, full = m / mr * mr;
        int* rows = QBuffers.ForThisThread.Rows(mr * kQuads);
        int t = m0;
        for (; t + mr <= Math.Min(m1, full); t += mr)
        {
            int* source = (int*)(x + (long)t * k);
            if (k % 4 != 0)
            {
                for (int r = 0; r < mr; r++) CopyQuads(x + (long)(t + r) * k, k, kQuads, rows + r * kQuads);
                source = rows;
            }
            GemmPack.TransposePanelAvx((float*)source, kQuads, kQuads, mr, mr, (float*)(packed + (long)t * kQuads));
        }
        for (int i = t; i < m1; i++) CopyQuads(x + (long)i * k, k, kQuads, packed + (long)i * kQuads);
    }

    /// <summary>The k bytes of a row into kQuads int32, the last one zero-padded.</summary>
    private static void CopyQuads(byte* row, int k, int kQuads, int* dst)
    {
        if (k % 4 != 0) dst[kQuads - 1] = 0;
        Buffer.MemoryCopy(row, dst, (long)kQuads * 4, k);
    }

    /// <summary>dst[p] = row[2p] | row[2p+1] &lt;&lt; 16 for p &lt; kPairs (0 past k), with AVX2 or AVX-512BW.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WidenRow(byte* row, int k, int kPairs, int* dst)
    {
        int p = 0, half = k / 2;
        if (TKernel.Path == KernelPath.Avx512)
            for (; p <= half - 16; p += 16) Avx512BW.ConvertToVector512Int16(Vector256.Load(row + 2 * p)).AsInt32().Store(dst + p);
        else
            for (; p <= half - 8; p += 8) Avx2.ConvertToVector256Int16(Vector128.Load(row + 2 * p)).AsInt32().Store(dst + p);
        WidenRowScalar(row, k, kPairs, dst, 1, p);
    }

    /// <summary>Pairs from <paramref name="p"/> on, element by element, to dst[p·stride].</summary>
    private static void WidenRowScalar(byte* row, int k, int kPairs, int* dst, int stride, int p)
    {
        for (; p < k / 2; p++) dst[p * stride] = row[2 * p] | row[2 * p + 1] << 16;
        if (p < kPairs) dst[p * stride] = row[2 * p];
    }
}
