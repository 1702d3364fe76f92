// The AVX-512 m == 1 kernel on the sliced, column-blocked layout (CsrBlocks.cs). Lane r of the accumulators
// is row s·16 + r. For each non-empty column block the 32 inputs x[b·32 ..] sit in two registers and each
// slot fetches its 16 inputs with one vpermi2ps instead of a gather (.NET 10 has no 512-bit gather, and two
// 256-bit gathers cost several times a permute). Padding lanes have value 0 and are masked off, so an
// infinite input cannot turn them into NaN. A row's sum order depends only on the matrix (slots rotate over
// four accumulators), so threads, which split slices, never change the bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels;

public static unsafe partial class SparseGemm
{
    [ThreadStatic] private static BlocksJob? t_blocksJob;

    private static void RunBlocks(ref Operands k, CsrBlocks blocks, float* x, float* y)
    {
        // The permute tables read whole blocks of 32, so copy x into a zero-padded buffer.
        float* xp = PackBuffers.ForThisThread.X(blocks.ColumnBlocks * CsrBlocks.BlockCols);
        new Span<float>(x, k.Cols).CopyTo(new Span<float>(xp, k.Cols));
        new Span<float>(xp + k.Cols, blocks.ColumnBlocks * CsrBlocks.BlockCols - k.Cols).Clear();
        int slices = blocks.SliceStarts.Length - 1;
        int parts = k.NonZeros >= ParallelNonZeros ? Math.Min(Cpu.Threads, slices) : 1;
        fixed (int* sliceStarts = blocks.SliceStarts, blockOf = blocks.Blocks, slotStarts = blocks.SlotStarts)
        fixed (float* values = blocks.Values)
        fixed (byte* columns = blocks.Columns)
        {
            var t = new BlockTables(sliceStarts, blockOf, slotStarts, values, columns);
            if (parts <= 1) { Slices(in k, in t, 0, slices, xp, y); return; }
            var job = t_blocksJob ??= new BlocksJob();
            job.K = k; job.T = t; job.X = xp; job.Y = y; job.Slices = slices; job.Parts = parts;
            try { WorkerPool.Run(job, parts); }
            finally { job.X = job.Y = null; job.K = default; job.T = default; }
        }
    }

    private readonly struct BlockTables(int* sliceStarts, int* blockOf, int* slotStarts, float* values, byte* columns)
    {
        public readonly int* SliceStarts = sliceStarts, BlockOf = blockOf, SlotStarts = slotStarts;
        public readonly float* Values = values;
        public readonly byte* Columns = columns;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Slices(in Operands k, in BlockTables t, int s0, int s1, float* x, float* y)
    {
        float* lanes = stackalloc float[16];
        for (int s = s0; s < s1; s++)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int e = t.SliceStarts[s]; e < t.SliceStarts[s + 1]; e++)
            {
                float* table = x + t.BlockOf[e] * CsrBlocks.BlockCols;
                var lo = Vector512.Load(table); var hi = Vector512.Load(table + 16);
                int slot = t.SlotStarts[e], end = t.SlotStarts[e + 1];
                for (; slot <= end - 4; slot += 4)
                {
                    a0 = Slot(t, slot, lo, hi, a0); a1 = Slot(t, slot + 1, lo, hi, a1);
                    a2 = Slot(t, slot + 2, lo, hi, a2); a3 = Slot(t, slot + 3, lo, hi, a3);
                }
                if (slot < end) a0 = Slot(t, slot++, lo, hi, a0);
                if (slot < end) a1 = Slot(t, slot++, lo, hi, a1);
                if (slot < end) a2 = Slot(t, slot, lo, hi, a2);
            }
            var sum = (a0 + a1) + (a2 + a3);
            int r0 = s * CsrBlocks.SliceRows, rows = Math.Min(CsrBlocks.SliceRows, k.Rows - r0);
            if (k.Bias != null && rows == CsrBlocks.SliceRows) { (sum + Vector512.Load(k.Bias + r0)).Store(y + r0); continue; }
            sum.Store(lanes);
            for (int r = 0; r < rows; r++) y[r0 + r] = lanes[r] + k.BiasOf(r0 + r);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Slot(in BlockTables t, int slot, Vector512<float> lo, Vector512<float> hi, Vector512<float> acc)
    {
        var v = Vector512.Load(t.Values + slot * 16);
        var columns = Avx512F.ConvertToVector512Int32(Vector128.Load(t.Columns + slot * 16));
        var xs = Avx512F.PermuteVar16x32x2(lo, columns, hi);
        xs = Vector512.ConditionalSelect(Vector512.Equals(v, Vector512<float>.Zero), Vector512<float>.Zero, xs);
        return Avx512F.FusedMultiplyAdd(v, xs, acc);
    }

    /// <summary>Part p of a threaded blocked product owns a run of slices.</summary>
    private sealed class BlocksJob : IParallelJob
    {
        public Operands K;
        public BlockTables T;
        public float* X, Y;
        public int Slices, Parts;

        public void Execute(int part) =>
            SparseGemm.Slices(in K, in T, (int)((long)Slices * part / Parts), (int)((long)Slices * (part + 1) / Parts), X, Y);
    }
}
