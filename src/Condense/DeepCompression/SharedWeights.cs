// One tensor after weight sharing (Deep Compression §3): a codebook of 2^b shared values and, for every
// kept (non-zero) weight, the b-bit index of its value. Pruned weights (exact zeros) are not clustered:
// the mask marks them, they have no index, and they reconstruct to exactly 0.
namespace Condense.DeepCompression;

/// <summary>A weight tensor stored as a codebook plus one index per kept weight.</summary>
public sealed class SharedWeights
{
    private int[]? _clusterOf;

    /// <summary>Wraps a codebook, indices and mask (not copied).</summary>
    /// <param name="centroids">The shared values, at most 2^<paramref name="bits"/>.</param>
    /// <param name="indices">One codebook index per kept weight, in row-major order of the kept positions.</param>
    /// <param name="mask">True where the weight is kept; false where it was pruned (stays 0).</param>
    /// <param name="bits">Bits per index, 1–8.</param>
    public SharedWeights(float[] centroids, byte[] indices, bool[] mask, int bits)
    {
        if (bits is < 1 or > 8) throw new CondenseException($"weight sharing needs 1 to 8 bits per index, got {bits}");
        if (centroids.Length > 1 << bits) throw new ArgumentException($"{centroids.Length} centroids do not fit in {bits} bits");
        int kept = mask.Count(m => m);
        if (indices.Length != kept) throw new ArgumentException($"{indices.Length} indices for {kept} kept weights");
        foreach (byte i in indices)
            if (i >= centroids.Length) throw new ArgumentException($"index {i} outside a codebook of {centroids.Length}");
        Centroids = centroids; Indices = indices; Mask = mask; Bits = bits;
    }

    /// <summary>The shared values (the codebook), ascending after clustering; fine-tuning updates them in place.</summary>
    public float[] Centroids { get; }

    /// <summary>One codebook index per kept weight, in row-major order of the kept positions.</summary>
    public byte[] Indices { get; }

    /// <summary>True where the weight is kept, false where it is pruned (an exact zero, never clustered).</summary>
    public bool[] Mask { get; }

    /// <summary>Bits per index; the codebook holds at most 2^Bits values.</summary>
    public int Bits { get; }

    /// <summary>Number of weights in the tensor.</summary>
    public int Size => Mask.Length;

    /// <summary>Number of kept (clustered) weights.</summary>
    public int NonZeros => Indices.Length;

    /// <summary>The dense tensor: Centroids[index] at kept positions, 0 at pruned ones.</summary>
    public float[] Reconstruct()
    {
        var w = new float[Size];
        ReconstructInto(w);
        return w;
    }

    /// <summary>Writes the dense tensor into <paramref name="destination"/>.</summary>
    public void ReconstructInto(Span<float> destination)
    {
        if (destination.Length != Size) throw new ArgumentException($"destination of {destination.Length} for a tensor of {Size}");
        var clusterOf = ClusterOf;
        for (int i = 0; i < destination.Length; i++)
            destination[i] = clusterOf[i] < 0 ? 0f : Centroids[clusterOf[i]];
    }

    /// <summary>The row-major positions of the kept weights, ascending.</summary>
    public int[] KeptPositions()
    {
        var positions = new int[NonZeros];
        for (int i = 0, n = 0; i < Mask.Length; i++) if (Mask[i]) positions[n++] = i;
        return positions;
    }

    // Per element: its cluster, or −1 where pruned. The indices never change, so this is built once.
    internal int[] ClusterOf
    {
        get
        {
            if (_clusterOf is not null) return _clusterOf;
            var c = new int[Size];
            for (int i = 0, n = 0; i < c.Length; i++) c[i] = Mask[i] ? Indices[n++] : -1;
            return _clusterOf = c;
        }
    }
}
