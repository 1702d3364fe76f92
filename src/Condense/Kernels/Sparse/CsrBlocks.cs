// A second layout of a CsrMatrix for the AVX-512 batch-1 kernel (SparseGemm.Blocks.cs): rows, sorted by
// length, in slices of 16 (one per vector lane) and columns in blocks of 31. The kernel reads block b as a
// 32-float vpermi2ps table, x[b·31 .. b·31 + 30] then a zero, so a padding lane points at index 31 and
// multiplies 0 by 0: no mask keeps an infinite input from turning padding into NaN. For each slice and
// non-empty block it stores "slots": slot k holds, in lane r, the k-th entry in the block of the slice's
// r-th row (its value and its table index as a byte), or the padding (0, 31) where that row has fewer.
// A slot is then one permute and one FMA for 16 rows, with no gather and no horizontal sum. Padding costs
// lanes: a slice and block hold max_r(count) slots for Σ_r count entries, hence the sort.
namespace Condense.Kernels.Sparse;

/// <summary>The sliced and column-blocked copy of a <see cref="CsrMatrix"/>, built once per matrix.</summary>
internal sealed class CsrBlocks
{
    /// <summary>Rows per slice (vector lanes), columns of x per block, floats per permute table.</summary>
    public const int SliceRows = 16, BlockCols = 31, TableCols = 32;

    /// <summary>The table index of the zero that padding lanes read.</summary>
    public const int ZeroIndex = TableCols - 1;

    /// <summary>Slice s's non-empty blocks are entries SliceStarts[s] .. SliceStarts[s + 1] - 1.</summary>
    public readonly int[] SliceStarts;

    /// <summary>Per entry: where its table starts in the padded x, Block·32 (x's columns Block·31 .. Block·31 + 30).</summary>
    public readonly int[] TableStarts;

    /// <summary>Per entry: its slots are SlotStarts[e] .. SlotStarts[e + 1] - 1.</summary>
    public readonly int[] SlotStarts;

    /// <summary>16 values per slot (zero in padding lanes).</summary>
    public readonly float[] Values;

    /// <summary>16 table indices per slot (the column within the block; <see cref="ZeroIndex"/> in padding lanes).</summary>
    public readonly byte[] Columns;

    /// <summary>Number of column blocks: x is read as ColumnBlocks tables of 32 floats.</summary>
    public readonly int ColumnBlocks;

    /// <summary>Lane r of slice s computes row RowOrder[s·16 + r] of the matrix.</summary>
    public readonly int[] RowOrder;

    public CsrBlocks(CsrMatrix w)
    {
        int slices = (w.Rows + SliceRows - 1) / SliceRows;
        ColumnBlocks = (w.Cols + BlockCols - 1) / BlockCols;
        var sliceStarts = new int[slices + 1];
        var tables = new List<int>();
        var slotStarts = new List<int> { 0 };
        var values = new List<float>();
        var columns = new List<byte>();
        // cursor[r] walks row r's entries; rows are in increasing column order, so blocks come in order.
        var order = RowOrder = Order(w, ColumnBlocks);
        var cursor = new int[SliceRows];
        var counts = new int[SliceRows];
        for (int s = 0; s < slices; s++)
        {
            int r0 = s * SliceRows, rows = Math.Min(SliceRows, w.Rows - r0);
            for (int r = 0; r < rows; r++) cursor[r] = w.RowStarts[order[r0 + r]];
            for (int b = 0; b < ColumnBlocks; b++)
            {
                int limit = (b + 1) * BlockCols, slots = 0;
                for (int r = 0; r < rows; r++)
                {
                    int p = cursor[r], end = w.RowStarts[order[r0 + r] + 1];
                    while (p < end && w.ColumnIndices[p] < limit) p++;
                    counts[r] = p - cursor[r];
                    slots = Math.Max(slots, counts[r]);
                }
                if (slots == 0) continue;
                for (int k = 0; k < slots; k++)
                {
                    for (int r = 0; r < SliceRows; r++)
                    {
                        bool real = r < rows && k < counts[r];
                        values.Add(real ? w.Values[cursor[r] + k] : 0f);
                        columns.Add(real ? (byte)(w.ColumnIndices[cursor[r] + k] - b * BlockCols) : (byte)ZeroIndex);
                    }
                }
                for (int r = 0; r < rows; r++) cursor[r] += counts[r];
                tables.Add(b * TableCols);
                slotStarts.Add(slotStarts[^1] + slots);
            }
            sliceStarts[s + 1] = tables.Count;
        }
        SliceStarts = sliceStarts;
        TableStarts = [.. tables];
        SlotStarts = [.. slotStarts];
        Values = [.. values];
        Columns = [.. columns];
    }

    /// <summary>
    /// The rows grouped into slices: by decreasing number of entries (ties by index), so that a slice holds
    /// rows of similar length, then improved by swapping rows between neighbouring slices while that lowers
    /// their slot count (Σ over blocks of the largest count), a few passes at most. Only the grouping
    /// depends on this, never a row's bits. On a trained, globally pruned LeNet-300-100 this takes fc1
    /// from 28% to 44% of lanes filled (3892 to 2453 slots) and fc2 from 49% to 67% (1081 to 787).
    /// </summary>
    private static int[] Order(CsrMatrix w, int blocks)
    {
        var order = new int[w.Rows];
        var keys = new (int NegatedLength, int Row)[w.Rows];
        for (int r = 0; r < w.Rows; r++) { order[r] = r; keys[r] = (w.RowStarts[r] - w.RowStarts[r + 1], r); }
        Array.Sort(keys, order);
        int slices = (w.Rows + SliceRows - 1) / SliceRows;
        if (slices < 2 || blocks == 0) return order;
        // counts[r·blocks + b]: row r's entries in block b.
        var counts = new int[w.Rows * blocks];
        for (int r = 0; r < w.Rows; r++)
            for (int p = w.RowStarts[r]; p < w.RowStarts[r + 1]; p++) counts[r * blocks + w.ColumnIndices[p] / BlockCols]++;
        // The slots of slice s with the row in lane `lane` replaced by row `with`.
        int Slots(int s, int lane, int with)
        {
            int total = 0, r0 = s * SliceRows, rows = Math.Min(SliceRows, w.Rows - r0);
            for (int b = 0; b < blocks; b++)
            {
                int max = 0;
                for (int r = 0; r < rows; r++) max = Math.Max(max, counts[(r == lane ? with : order[r0 + r]) * blocks + b]);
                total += max;
            }
            return total;
        }
        // A pass tries 16 × 16 swaps per neighbouring pair, each costing two slices' counts; the swaps are
        // for LeNet-sized layers (a few ms), so large matrices, which would take seconds, keep the sort alone.
        long work = (long)(slices - 1) * SliceRows * SliceRows * 2 * blocks * SliceRows;
        int passes = (int)Math.Min(4, 64_000_000 / work);
        for (int pass = 0; pass < passes; pass++)
        {
            bool improved = false;
            for (int s = 0; s + 1 < slices; s++)
            {
                int rowsNext = Math.Min(SliceRows, w.Rows - (s + 1) * SliceRows);
                int cost = Slots(s, -1, 0) + Slots(s + 1, -1, 0);
                for (int i = 0; i < SliceRows; i++)
                    for (int j = 0; j < rowsNext; j++)
                    {
                        int a = order[s * SliceRows + i], b = order[(s + 1) * SliceRows + j];
                        int swapped = Slots(s, i, b) + Slots(s + 1, j, a);
                        if (swapped >= cost) continue;
                        order[s * SliceRows + i] = b; order[(s + 1) * SliceRows + j] = a;
                        cost = swapped; improved = true;
                    }
            }
            if (!improved) break;
        }
        return order;
    }
}
