// The gradient sum of a data-parallel step: every rank's gradients, scaled by its share of the global batch, packed into
// one flat buffer and summed by one all-reduce (Horovod's tensor fusion, Sergeev & Del Balso 2018; DDP's buckets, Li et
// al. 2020), the batch's loss and accuracy sums riding along, with a flag per parameter that says whether any rank has
// a gradient for it. Large tables (embeddings: all-MiniLM-L6-v2's word table is 30,522 × 384, two thirds of a 3-layer
// student) get a gradient only in the rows of the tokens a batch holds, so their rows go by rows: a first, small
// all-reduce takes the maximum of every rank's nonzero-row marks, and only the union of those rows is summed (the
// others are zero on every rank, so the result is the same as summing them).
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using Condense.Distributed;
using Condense.Tensors;

namespace Condense.Training;

internal static class GradientAllReduce
{
    /// <summary>2-D parameters with at least this many rows are reduced by the rows some rank's gradient touches.</summary>
    public const int RowTableMinimum = 4096;

    [ThreadStatic] private static float[]? t_buffer;

    public static void Run(IReadOnlyList<Tensor> parameters, float share, Span<float> sums, Communicator world)
    {
        var rows = UnionOfRows(parameters, world);
        long total = sums.Length + parameters.Count;
        for (int i = 0; i < parameters.Count; i++) total += rows[i] is { } r ? (long)r.Length * Columns(parameters[i]) : parameters[i].Size;
        if (total > int.MaxValue) throw new CondenseException($"the model has too many parameters ({total:N0}) for one gradient buffer");
        // One buffer kept between steps (a MiniLM student's is 70 MB): every slot is written below.
        var buffer = t_buffer is { } kept && kept.Length == total ? kept : t_buffer = GC.AllocateUninitializedArray<float>((int)total);
        int offset = 0;
        for (int i = 0; i < parameters.Count; i++) offset += Pack(parameters[i], rows[i], share, buffer.AsSpan(offset));
        for (int i = 0; i < parameters.Count; i++) buffer[offset + i] = parameters[i].Grad is null ? 0f : 1f;
        sums.CopyTo(buffer.AsSpan(offset + parameters.Count));
        world.AllReduce(buffer);
        offset = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            bool anyRank = buffer[total - sums.Length - parameters.Count + i] > 0f;
            if (anyRank) p.Grad ??= Tensor.Zeros(p.Shape);
            offset += Unpack(anyRank ? p.Grad : null, p, rows[i], buffer.AsSpan(offset));
        }
        buffer.AsSpan((int)total - sums.Length).CopyTo(sums);
    }

    private static int Columns(Tensor p) => p.Size / p.Shape[0];

    // For each row table, the rows that are nonzero on some rank (ascending); null for every other parameter.
    private static int[]?[] UnionOfRows(IReadOnlyList<Tensor> parameters, Communicator world)
    {
        var result = new int[]?[parameters.Count];
        int marks = 0;
        foreach (var p in parameters) if (IsRowTable(p)) marks += p.Shape[0];
        if (marks == 0) return result;
        var touched = new float[marks];
        int at = 0;
        foreach (var p in parameters)
        {
            if (!IsRowTable(p)) continue;
            int width = Columns(p);
            if (p.Grad is { } grad)
                for (int r = 0; r < p.Shape[0]; r++) touched[at + r] = TensorPrimitives.MaxMagnitude(grad.Data.AsSpan(r * width, width)) != 0f ? 1f : 0f;
            at += p.Shape[0];
        }
        world.AllReduce(touched, ReduceOp.Max);
        at = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            if (!IsRowTable(parameters[i])) continue;
            var union = new List<int>();
            for (int r = 0; r < parameters[i].Shape[0]; r++) if (touched[at + r] != 0f) union.Add(r);
            result[i] = [.. union];
            at += parameters[i].Shape[0];
        }
        return result;
    }

    private static bool IsRowTable(Tensor p) => p.Rank == 2 && p.Shape[0] >= RowTableMinimum;

    private static int Pack(Tensor p, int[]? rows, float share, Span<float> slot)
    {
        if (rows is null)
        {
            if (p.Grad is { } grad) TensorPrimitives.Multiply(grad.Data.AsSpan(0, p.Size), share, slot[..p.Size]);
            else slot[..p.Size].Clear();
            return p.Size;
        }
        int width = Columns(p);
        for (int k = 0; k < rows.Length; k++)
        {
            var target = slot.Slice(k * width, width);
            if (p.Grad is { } grad) TensorPrimitives.Multiply(grad.Data.AsSpan(rows[k] * width, width), share, target);
            else target.Clear();
        }
        return rows.Length * width;
    }

    private static int Unpack(Tensor? grad, Tensor p, int[]? rows, ReadOnlySpan<float> slot)
    {
        if (rows is null)
        {
            if (grad is not null) slot[..p.Size].CopyTo(grad.Data);
            return p.Size;
        }
        int width = Columns(p);
        // Rows outside the union are zero on this rank already (or the gradient was just made, all zeros).
        if (grad is not null)
            for (int k = 0; k < rows.Length; k++) slot.Slice(k * width, width).CopyTo(grad.Data.AsSpan(rows[k] * width, width));
        return rows.Length * width;
    }
}
