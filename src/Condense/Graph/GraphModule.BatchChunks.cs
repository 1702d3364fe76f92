// Inference of a large batch in chunks of samples ("batch tiling"). Run layer by layer, a batch of 256 MNIST images
// through resnet-mini holds 12.8 MB per activation, and a residual block keeps two or three of them live: more than this
// machine's 32 MB L3, so every layer reads its input from memory. Run as 4 chunks of 64, each pass's values stay in the
// caches while the next layer reads them: 13.4–13.6 → 9.9–10.0 ms for the whole batch (Zen 5, two repeats; 128: 10.3–10.7).
// A chunk is an ordinary pass, so the kernels, threads and fusions are those of any batch of its size. It applies where
// it can only help and never changes what a sample's result means:
//   - the samples never meet: every op that reads a sample's values is one that works sample by sample along dimension 0
//     (elementwise ops whose constant operands do not span the batch, convolutions, pooling, normalization within a
//     sample, Flatten, Reshape, Gemm and MatMul on constant weights, Softmax over a later axis; SeparableOps, checked on the
//     shapes of one whole pass), and every graph output is a value of the samples;
//   - the largest value of the whole batch exceeds a quarter of the last-level cache (LeNet-5's 4.8 MB at batch 256 ran
//     no faster in two chunks: 1.66 against 1.68 ms), chunks then make at most an eighth of it, and the weights are no
//     larger than it and fit in half the cache: each chunk reads all the weights again (ResNet-18 at batch 8, 45 MB of
//     weights beside a 26 MB largest value, stays whole);
//   - chunks keep at least MinChunk samples, so the kernels still get work to split between the threads.
// The first pass at a batch size runs whole and measures; later passes of large batches run chunked. Outputs are the
// chunks' outputs stacked; a sample's result equals the one it gets in a batch of the chunk's size.
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    /// <summary>The fewest samples a chunk holds.</summary>
    internal const int MinChunk = 16;

    /// <summary>Whether a large batch may run in chunks of samples (on by default; tests compare with whole batches).</summary>
    internal bool ChunkedInference { get; set; } = true;

    /// <summary>The largest value (bytes) a chunk should make by default: an eighth of the last-level cache, or 4 MiB when unknown.</summary>
    internal static long DefaultChunkBudget { get; } = Cpu.LastLevelCacheBytes is long l ? l / 8 : 4L << 20;

    /// <summary>The largest value (bytes) a chunk of this module's passes should make (tests make it small).</summary>
    internal long ChunkBudgetBytes { get; set; } = DefaultChunkBudget;

    /// <summary>How many chunks the last pass ran in (1: whole).</summary>
    internal int LastPassChunks { get; private set; } = 1;

    // What one whole pass of the current plan showed: whether its samples never meet, the bytes of its largest value per
    // sample, and the bytes of the weights.
    private sealed record BatchChunking(Plan Plan, bool Separable, long LargestPerSample, long WeightBytes);
    private BatchChunking? _chunking;

    // The shapes a pass gave its values, and its arena's largest array.
    private sealed class ChunkProbe(int slots) : StepProbe
    {
        public int[]?[] Shapes { get; } = new int[]?[slots];
        public long Largest { get; set; }

        public override void Record(int[] outputs, Tensor?[] values)
        {
            foreach (int slot in outputs) Shapes[slot] ??= values[slot]?.Shape;
        }
    }

    // A releasing pass: in chunks when they pay, else whole (probing the pass when nothing is known of it yet).
    private Tensor?[] ExecuteReleasing(Plan plan, Tensor[] fed)
    {
        int batch = FloatBatch(fed);
        LastPassChunks = 1;
        if (batch < 2 * MinChunk || !ChunkedInference) return Execute(plan, fed, release: true);
        if (_chunking is not { } known || !ReferenceEquals(known.Plan, plan))
        {
            var probe = new ChunkProbe(plan.Names.Length);
            var values = Execute(plan, fed, release: true, probe);
            _chunking = Analyse(plan, fed, batch, probe, values);
            return values;
        }
        int chunk = ChunkSize(known, batch, ChunkBudgetBytes);
        return chunk < batch ? ExecuteInChunks(plan, fed, batch, chunk) : Execute(plan, fed, release: true);
    }

    // Samples per chunk for a batch (the batch itself: no chunks).
    private static int ChunkSize(BatchChunking c, int batch, long budget)
    {
        long largest = c.LargestPerSample * batch;
        if (!c.Separable || largest <= 2 * budget || c.WeightBytes > largest || c.WeightBytes > 4 * DefaultChunkBudget) return batch;
        long chunks = Math.Min(batch / MinChunk, (largest + budget - 1) / budget);
        return chunks < 2 ? batch : (int)((batch + chunks - 1) / chunks);
    }

    private Tensor?[] ExecuteInChunks(Plan plan, Tensor[] fed, int batch, int chunk)
    {
        var stacked = new Tensor?[plan.Names.Length];
        for (int start = 0, index = 0; start < batch; start += chunk, index++)
        {
            int rows = Math.Min(chunk, batch - start);
            Stack(plan, Execute(plan, [.. fed.Select(t => Rows(t, start, rows))], release: true), start, rows, batch, stacked);
            LastPassChunks = index + 1;
        }
        return stacked;
    }

    // Copies a part's graph outputs (rows [start, start + rows) of the batch) into the stacked outputs, made on first use.
    private void Stack(Plan plan, Tensor?[] values, int start, int rows, int batch, Tensor?[] stacked)
    {
        foreach (var output in Graph.Outputs)
        {
            int slot = Array.IndexOf(plan.Names, output.Name);
            var part = values[slot]!;
            if (part.DataType != DataType.Float32 || part.Rank == 0 || part.Shape[0] != rows)
                throw new InvalidOperationException($"rows {start}.. of the batch gave output '{output.Name}' of shape {Shape.Format(part.Shape)}");
            int inner = part.Size / rows;
            stacked[slot] ??= new Tensor(GC.AllocateUninitializedArray<float>(inner * batch), [batch, .. part.Shape[1..]]);
            part.Data.AsSpan(0, part.Size).CopyTo(stacked[slot]!.Data.AsSpan(inner * start));
        }
    }

    // Rows [start, start + count) of a tensor along dimension 0 (itself when that is all of it).
    private static Tensor Rows(Tensor t, int start, int count)
    {
        if (start == 0 && count == t.Shape[0]) return t;
        int inner = t.Size / t.Shape[0];
        return new Tensor(t.Data.AsSpan(start * inner, count * inner).ToArray(), [count, .. t.Shape[1..]]);
    }

    // The batch every fed tensor shares along dimension 0, when all are float32; 0 otherwise.
    private static int FloatBatch(Tensor[] fed)
    {
        if (fed.Length == 0 || fed.Any(t => t.DataType != DataType.Float32 || t.Rank == 0)) return 0;
        int batch = fed[0].Shape[0];
        return fed.All(t => t.Shape[0] == batch) ? batch : 0;
    }

    private BatchChunking Analyse(Plan plan, Tensor[] fed, int batch, ChunkProbe probe, Tensor?[] values)
    {
        var shapes = probe.Shapes;
        for (int i = 0; i < plan.InitializerCount; i++) shapes[i] = Graph.Initializers.GetAt(i).Value.Shape;
        for (int i = 0; i < fed.Length; i++) shapes[plan.Inputs[i]] = fed[i].Shape;
        long weights = Graph.Initializers.Values.Sum(t => (long)t.Size * sizeof(float));
        bool separable = SeparableOps.Hold(plan, shapes, batch, slot => slot < plan.InitializerCount ? Graph.Initializers.GetAt(slot).Value : null)
            && Graph.Outputs.All(o => Array.IndexOf(plan.Names, o.Name) is >= 0 and var slot
                && values[slot] is { DataType: DataType.Float32, Shape: [var first, ..] } && first == batch);
        return new BatchChunking(plan, separable, probe.Largest * sizeof(float) / batch, weights);
    }
}
