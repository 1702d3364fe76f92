// Reused float buffers for inference passes, as an inference engine's memory arena. A freshly allocated activation of a
// few MiB is costly beyond its size: it lands on the large-object heap (or fills gen0 at once), and its pages come back
// cold — faulted in and zeroed by the OS — after each collection; on all-MiniLM-L6-v2 at batch 8, six Divs over
// 8×12×128×128 floats took 14 ms, several times what memory bandwidth allows. A GraphModule pass that keeps only its
// outputs (GraphModule.Outputs.cs) makes one TensorArena and sets it as the thread's current arena around each op it runs:
// Tensor.Uninitialized then takes its array from the module's TensorPool, and the arena counts, per array, the values
// of the pass that hold it (a Reshape view or an Identity shares its input's array). When the last holder is released
// the array goes back to the pool. What the arena does not hand out (initializers, folded constants, graph inputs,
// arrays allocated on worker threads, which see no current arena) is never counted and never pooled; an array a value
// keeps past the pass (a graph output) never reaches a count of zero. Small arrays stay with the collector, whose gen0
// serves them from warm memory as fast as a pool would.
namespace Condense.Tensors;

/// <summary>The arrays of released values, by length, for the passes of one module (locked: passes may run concurrently).</summary>
internal sealed class TensorPool
{
    private readonly Dictionary<int, Stack<float[]>> _free = [];

    /// <summary>A pooled array of exactly <paramref name="length"/> elements (stale contents), or null when none is free.</summary>
    public float[]? Take(int length)
    {
        lock (_free) return _free.TryGetValue(length, out var stack) && stack.Count > 0 ? stack.Pop() : null;
    }

    /// <summary>Keeps <paramref name="array"/> for a later <see cref="Take"/>; nothing may use it any more.</summary>
    public void Give(float[] array)
    {
        lock (_free)
        {
            if (!_free.TryGetValue(array.Length, out var stack)) _free[array.Length] = stack = new Stack<float[]>();
            stack.Push(array);
        }
    }

    /// <summary>
    /// Drops the arrays of every length not in <paramref name="lengths"/> (those a pass used): what the pool holds stays
    /// bounded by what one pass of the current shapes needs, and a new batch size or sequence length frees the old arrays.
    /// </summary>
    public void KeepOnly(HashSet<int> lengths)
    {
        lock (_free)
            foreach (int length in _free.Keys)
                if (!lengths.Contains(length)) _free.Remove(length);
    }
}

/// <summary>The buffers of one inference pass: what it took from its pool, and how many of its values hold each.</summary>
internal sealed class TensorArena(TensorPool pool, int minPooledLength = TensorArena.MinPooledLength) : IDisposable
{
    /// <summary>By default, arrays shorter than this (16 KiB) come from the collector.</summary>
    internal const int MinPooledLength = 4096;

    [ThreadStatic] private static TensorArena? t_current;

    private readonly Dictionary<float[], int> _holders = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<int> _lengths = [];

    /// <summary>Makes <paramref name="arena"/> (or none) this thread's current arena; returns the one it replaces.</summary>
    public static TensorArena? Swap(TensorArena? arena)
    {
        var previous = t_current;
        t_current = arena;
        return previous;
    }

    /// <summary>An array of <paramref name="length"/> elements with undefined contents: the current arena's when there is one.</summary>
    public static float[] Allocate(int length) => t_current is { } arena ? arena.Rent(length) : GC.AllocateUninitializedArray<float>(length);

    /// <summary>An array from the pool (or a new one), held by no value yet; a small one from the collector.</summary>
    public float[] Rent(int length)
    {
        Largest = Math.Max(Largest, length);
        if (length < minPooledLength) return GC.AllocateUninitializedArray<float>(length);
        var array = pool.Take(length) ?? GC.AllocateUninitializedArray<float>(length);
        _holders[array] = 0;
        _lengths.Add(length);
        return array;
    }

    /// <summary>The most elements one array of this pass had (GraphModule.BatchChunks.cs sizes its chunks by it).</summary>
    public int Largest { get; private set; }

    /// <summary>Records that a value of the pass now holds <paramref name="value"/>'s array.</summary>
    public void Hold(Tensor? value)
    {
        if (Array(value) is { } array && _holders.TryGetValue(array, out int count)) _holders[array] = count + 1;
    }

    /// <summary>Records that a value holding <paramref name="value"/>'s array was released; the last release pools it.</summary>
    public void Drop(Tensor? value)
    {
        if (Array(value) is not { } array || !_holders.TryGetValue(array, out int count)) return;
        if (count > 1) { _holders[array] = count - 1; return; }
        _holders.Remove(array);
        pool.Give(array);
    }

    /// <summary>True when this pass handed out <paramref name="value"/>'s array and no other value of the pass holds it.</summary>
    public bool SoleHolder(Tensor value) => Array(value) is { } array && _holders.TryGetValue(array, out int count) && count == 1;

    /// <summary>Never pools <paramref name="value"/>'s array: something outside the pass's values keeps it (a cache keyed on it).</summary>
    public void Keep(Tensor? value)
    {
        if (Array(value) is { } array) _holders.Remove(array);
    }

    /// <summary>Ends the pass: the pool keeps arrays of the lengths this pass used only.</summary>
    public void Dispose() => pool.KeepOnly(_lengths);

    // The float array of a float32, float16 or bfloat16 value (the storage a pooled array can be); null for other types.
    private static float[]? Array(Tensor? value) => value?.DataType.Storage() == TensorStorage.Single ? value.SingleData : null;
}
