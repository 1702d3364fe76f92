// The buffers of the inference path (Forward and RunOutputs in evaluation with gradients off, GraphModule.Outputs.cs),
// reused across passes as an inference engine's memory arena does (Tensors/TensorArena.cs says why fresh multi-MiB arrays
// are slow). Each such pass makes a TensorArena over this module's pool and sets it as the thread's current arena while a
// kernel runs, so every op's output made by Tensor.Uninitialized (and every fused convolution chain's output) comes from
// the pool. Each value put in a slot counts as a holder of its array; releasing a slot drops its count, and the array
// returns to the pool when no live value shares it (a Reshape view and an Identity output do) — O(1) per value. Never
// pooled: graph outputs (never released: the caller owns them), what the arena did not hand out (initializers, inputs),
// constant and shape-only steps' outputs (cached across passes: they run with no current arena, as does everything
// outside a kernel call, such as the folded batch-norm weights), and the arrays an op keys a cache on (below).
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    private readonly TensorPool _pool = new();

    /// <summary>The shortest array the inference path pools (shorter ones come from the collector); tests lower it.</summary>
    internal int PooledFrom { get; set; } = TensorArena.MinPooledLength;

    /// <summary>The inputs (by op type) whose arrays a kernel keys a cache on: a reused array would find a stale entry.</summary>
    private static readonly Dictionary<string, int[]> ArrayKeyedInputs = new()
    {
        [OpTypes.DynamicQuantizeMatMul] = [1, 2],   // the packed weight, by its codes' and scales' arrays
    };

    /// <summary>A tensor of <paramref name="shape"/> with undefined contents, on an array of this pass's arena.</summary>
    private static Tensor PooledTensor(int[] shape, TensorArena arena) => new(arena.Rent(Shape.Size(shape)), shape);

    /// <summary>The arena of a pass that releases its intermediate values, else null (every value is returned or kept).</summary>
    private TensorArena? ArenaFor(bool release) => release ? new TensorArena(_pool, PooledFrom) : null;

    /// <summary>Runs <paramref name="step"/>'s kernel with <paramref name="arena"/> as the thread's current arena, and restores it.</summary>
    private static Tensor[] InArena(TensorArena? arena, Step step, Tensor?[] inputs, OpContext context)
    {
        if (arena is not null && ArrayKeyedInputs.TryGetValue(step.Node.OpType, out var keyed))
            foreach (int i in keyed)
                if (i < inputs.Length) arena.Keep(inputs[i]);
        var outer = TensorArena.Swap(arena);
        try { return step.Kernel(step.Node, inputs, context); }
        finally { TensorArena.Swap(outer); }
    }

    /// <summary>Drops slot <paramref name="slot"/>; its array returns to the pool when the pass's arena handed it out and no live value shares it.</summary>
    private static void Release(Tensor?[] values, int slot, TensorArena? arena)
    {
        arena?.Drop(values[slot]);
        values[slot] = null;
    }
}
