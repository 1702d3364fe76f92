// Output buffers of the fused convolution chains (GraphModule.Inference.cs), reused across the inference path's
// passes, as an inference engine's memory arena does. A freshly allocated output of a few MiB is costly beyond its
// size: it lands on the large-object heap, and its pages come back cold (faulted in and zeroed by the OS) after each
// collection; the stem of resnet-mini at batch 256 took 10× longer writing a new 12 MiB tensor than a reused one.
// A chain's output array goes back to the pool when its slot is released and no live value shares the array (a
// Reshape view does); graph outputs are never released, so nothing the caller holds is ever reused.
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    /// <summary>At most this many arrays are kept per length, and this many lengths; past that the pool starts over.</summary>
    private const int PooledPerLength = 8, PooledLengths = 32;

    private readonly Dictionary<int, Stack<float[]>> _pool = [];

    /// <summary>A tensor of <paramref name="shape"/> on a pooled array (contents undefined), recorded as this pass's to recycle.</summary>
    private Tensor PooledTensor(int[] shape, HashSet<float[]> recyclable)
    {
        int length = Shape.Size(shape);
        float[]? data = null;
        lock (_pool)
            if (_pool.TryGetValue(length, out var stack) && stack.Count > 0) data = stack.Pop();
        data ??= GC.AllocateUninitializedArray<float>(length);
        recyclable.Add(data);
        return new Tensor(data, shape);
    }

    /// <summary>Drops slot <paramref name="slot"/>; its array returns to the pool if this pass pooled it and no live value shares it.</summary>
    private void Release(Tensor?[] values, int slot, HashSet<float[]>? recyclable)
    {
        var released = values[slot];
        values[slot] = null;
        if (recyclable is null || released is null || !recyclable.Contains(released.Data)) return;
        foreach (var value in values)
            if (value is not null && ReferenceEquals(value.Data, released.Data)) return;
        recyclable.Remove(released.Data);
        lock (_pool)
        {
            if (!_pool.TryGetValue(released.Data.Length, out var stack))
            {
                if (_pool.Count >= PooledLengths) _pool.Clear();
                _pool[released.Data.Length] = stack = new Stack<float[]>();
            }
            if (stack.Count < PooledPerLength) stack.Push(released.Data);
        }
    }
}
