// The AVX-512 m == 1 kernel on the sliced, column-blocked layout (CsrBlocks.cs). Lane r of slice s computes
// row RowOrder[s·16 + r]. x is first laid out as one 32-float table per block of 31 columns (the 32nd float is the
// zero padding lanes read). For each non-empty block of a slice the table sits in two registers and each
// slot fetches its 16 inputs with one vpermi2ps instead of a gather (.NET 10 has no 512-bit gather, and two
// 256-bit gathers cost several times a permute): two loads, a permute and an FMA per 16 entries. A row's sum
// order depends only on the matrix (slots rotate over four accumulators), so threads, which split slices,
// never change the bits.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Sparse;

public static unsafe partial class SparseGemm
{
    /// <summary>
    /// From this many slots (about 10 µs of work) a second thread pays. Below it, one core streaming the
    /// layout from its own L2 beat two on the 2-core bench machine: the 90%-pruned LeNet fc1 (2453 slots)
    /// took 3.5 µs on one thread and 4.0 µs on two (`bench sparse`, `bench prune`).
    /// </summary>
    internal const int ParallelSlots = 1 << 13;

    [ThreadStatic] private static BlocksJob? t_blocksJob;

    private static void RunBlocks(ref Operands k, CsrBlocks blocks, float* x, float* y)
    {
        float* tables = PackBuffers.ForThisThread.X(blocks.ColumnBlocks * CsrBlocks.TableCols);
        PackTables(x, k.Cols, blocks.ColumnBlocks, tables);
        int slices = blocks.SliceStarts.Length - 1;
        int parts = blocks.SlotStarts[^1] >= ParallelSlots ? Math.Min(Cpu.Threads, slices) : 1;
        fixed (int* sliceStarts = blocks.SliceStarts, tableStarts = blocks.TableStarts, slotStarts = blocks.SlotStarts, rowOrder = blocks.RowOrder)
        fixed (float* values = blocks.Values)
        fixed (byte* columns = blocks.Columns)
        {
            var t = new BlockTables(sliceStarts, tableStarts, slotStarts, rowOrder, values, columns);
            if (parts <= 1) { Slices(in k, in t, 0, slices, tables, y); return; }
            var job = t_blocksJob ??= new BlocksJob();
            job.K = k; job.T = t; job.X = tables; job.Y = y; job.Slices = slices; job.Parts = parts;
            try { WorkerPool.Run(job, parts); }
            finally { job.X = job.Y = null; job.K = default; job.T = default; }
        }
    }

    /// <summary>Table b (32 floats at b·32) = x[b·31 .. b·31 + 30] (zeros past Cols), then 0.</summary>
    private static void PackTables(float* x, int cols, int blocks, float* tables)
    {
        var dropLast = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(15)).AsSingle();
        int b = 0;
        // Whole blocks read 32 floats of x (one past the block), so they stop where that would leave x.
        for (; b < blocks && b * CsrBlocks.BlockCols + CsrBlocks.TableCols <= cols; b++)
        {
            float* from = x + b * CsrBlocks.BlockCols, to = tables + b * CsrBlocks.TableCols;
            Vector512.Load(from).StoreAligned(to);
            (Vector512.Load(from + 16) & dropLast).StoreAligned(to + 16);
        }
        for (; b < blocks; b++)
        {
            int c0 = b * CsrBlocks.BlockCols, n = Math.Min(CsrBlocks.BlockCols, cols - c0);
            float* to = tables + b * CsrBlocks.TableCols;
            new Span<float>(x + c0, n).CopyTo(new Span<float>(to, n));
            new Span<float>(to + n, CsrBlocks.TableCols - n).Clear();
        }
    }

    private readonly struct BlockTables(int* sliceStarts, int* tableStarts, int* slotStarts, int* rowOrder, float* values, byte* columns)
    {
        public readonly int* SliceStarts = sliceStarts, TableStarts = tableStarts, SlotStarts = slotStarts, RowOrder = rowOrder;
        public readonly float* Values = values;
        public readonly byte* Columns = columns;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Slices(in Operands k, in BlockTables t, int s0, int s1, float* x, float* y)
    {
        float* lanes = stackalloc float[16];
        float* values = t.Values;
        byte* columns = t.Columns;
        for (int s = s0; s < s1; s++)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int e = t.SliceStarts[s]; e < t.SliceStarts[s + 1]; e++)
            {
                float* table = x + t.TableStarts[e];
                var lo = Vector512.LoadAligned(table); var hi = Vector512.LoadAligned(table + 16);
                int slot = t.SlotStarts[e], end = t.SlotStarts[e + 1];
                for (; slot <= end - 4; slot += 4)
                {
                    a0 = Slot(values, columns, slot, lo, hi, a0); a1 = Slot(values, columns, slot + 1, lo, hi, a1);
                    a2 = Slot(values, columns, slot + 2, lo, hi, a2); a3 = Slot(values, columns, slot + 3, lo, hi, a3);
                }
                if (slot < end) a0 = Slot(values, columns, slot++, lo, hi, a0);
                if (slot < end) a1 = Slot(values, columns, slot++, lo, hi, a1);
                if (slot < end) a2 = Slot(values, columns, slot, lo, hi, a2);
            }
            ((a0 + a1) + (a2 + a3)).Store(lanes);
            int r0 = s * CsrBlocks.SliceRows, rows = Math.Min(CsrBlocks.SliceRows, k.Rows - r0);
            for (int r = 0; r < rows; r++) { int o = t.RowOrder[r0 + r]; y[o] = lanes[r] + k.BiasOf(o); }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Slot(float* values, byte* columns, int slot, Vector512<float> lo, Vector512<float> hi, Vector512<float> acc)
    {
        var xs = Avx512F.PermuteVar16x32x2(lo, Avx512F.ConvertToVector512Int32(Vector128.Load(columns + slot * 16)), hi);
        return Avx512F.FusedMultiplyAdd(Vector512.Load(values + slot * 16), xs, acc);
    }

    /// <summary>
    /// Part <paramref name="part"/>'s first slice when slices are split into runs of about equal slot counts
    /// (the work: slices of long rows hold several times the slots of short ones).
    /// </summary>
    private static int SplitSlice(in BlockTables t, int slices, int part, int parts)
    {
        if (part == 0) return 0;
        if (part == parts) return slices;
        long target = (long)t.SlotStarts[t.SliceStarts[slices]] * part / parts;
        int lo = 0, hi = slices;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (t.SlotStarts[t.SliceStarts[mid]] < target) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>Part p of a threaded blocked product owns a run of slices with about 1/parts of the slots.</summary>
    private sealed class BlocksJob : IParallelJob
    {
        public Operands K;
        public BlockTables T;
        public float* X, Y;
        public int Slices, Parts;

        public void Execute(int part) =>
            SparseGemm.Slices(in K, in T, SplitSlice(in T, Slices, part, Parts), SplitSlice(in T, Slices, part + 1, Parts), X, Y);
    }
}
