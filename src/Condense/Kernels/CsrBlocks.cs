// A second layout of a CsrMatrix for the AVX-512 batch-1 kernel (SparseGemm.Blocks.cs): rows in slices of
// 16 (one per vector lane) and columns in blocks of 32 (two vectors of x, one vpermi2ps table). For each
// slice and non-empty block it stores "slots": slot k holds, in lane r, row r's k-th entry in the block
// (its value and its column within the block as a byte), or a zero value where row r has fewer than k + 1.
// The kernel then needs no gather and no horizontal sum: a slot is one table permute and one FMA for 16
// rows. Padding costs lanes: a slice and block hold max_r(count) slots for Σ_r count entries.
namespace Condense.Kernels;

/// <summary>The sliced and column-blocked copy of a <see cref="CsrMatrix"/>, built once per matrix.</summary>
internal sealed class CsrBlocks
{
    public const int SliceRows = 16, BlockCols = 32;

    /// <summary>Slice s's non-empty blocks are entries SliceStarts[s] .. SliceStarts[s + 1] - 1.</summary>
    public readonly int[] SliceStarts;

    /// <summary>Per entry: its column block (columns Block·32 .. Block·32 + 31).</summary>
    public readonly int[] Blocks;

    /// <summary>Per entry: its slots are SlotStarts[e] .. SlotStarts[e + 1] - 1.</summary>
    public readonly int[] SlotStarts;

    /// <summary>16 values per slot (zero in padding lanes).</summary>
    public readonly float[] Values;

    /// <summary>16 columns within the block per slot (0 in padding lanes).</summary>
    public readonly byte[] Columns;

    /// <summary>Number of column blocks: x is read as ColumnBlocks·32 floats, zero-padded past Cols.</summary>
    public readonly int ColumnBlocks;

    public CsrBlocks(CsrMatrix w)
    {
        int slices = (w.Rows + SliceRows - 1) / SliceRows;
        ColumnBlocks = (w.Cols + BlockCols - 1) / BlockCols;
        var sliceStarts = new int[slices + 1];
        var blocks = new List<int>();
        var slotStarts = new List<int> { 0 };
        var values = new List<float>();
        var columns = new List<byte>();
        // cursor[r] walks row r's entries; rows are in increasing column order, so blocks come in order.
        var cursor = new int[SliceRows];
        for (int s = 0; s < slices; s++)
        {
            int r0 = s * SliceRows, rows = Math.Min(SliceRows, w.Rows - r0);
            for (int r = 0; r < rows; r++) cursor[r] = w.RowStarts[r0 + r];
            for (int b = 0; b < ColumnBlocks; b++)
            {
                int limit = (b + 1) * BlockCols, slots = 0;
                var counts = new int[rows];
                for (int r = 0; r < rows; r++)
                {
                    int p = cursor[r], end = w.RowStarts[r0 + r + 1];
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
                        columns.Add(real ? (byte)(w.ColumnIndices[cursor[r] + k] - b * BlockCols) : (byte)0);
                    }
                }
                for (int r = 0; r < rows; r++) cursor[r] += counts[r];
                blocks.Add(b);
                slotStarts.Add(slotStarts[^1] + slots);
            }
            sliceStarts[s + 1] = blocks.Count;
        }
        SliceStarts = sliceStarts;
        Blocks = [.. blocks];
        SlotStarts = [.. slotStarts];
        Values = [.. values];
        Columns = [.. columns];
    }
}
