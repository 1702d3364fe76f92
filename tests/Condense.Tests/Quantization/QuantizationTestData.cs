// Shared helpers of the weight-sharing tests: seeded normal values, with and without pruned zeros.
using Condense.Tensors;

namespace Condense.Tests.Quantization;

internal static class QuantizationTestData
{
    /// <summary>n values from N(0, 1), fixed by the seed.</summary>
    public static float[] Normal(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = rng.NextNormal();
        return v;
    }

    /// <summary>Normal values with about <paramref name="sparsity"/> of them set to exactly 0 (pruned).</summary>
    public static float[] Pruned(int n, double sparsity, ulong seed)
    {
        var v = Normal(n, seed);
        var rng = new Rng(seed + 1000);
        for (int i = 0; i < n; i++) if (rng.NextDouble() < sparsity) v[i] = 0f;
        return v;
    }

    public static int Distinct(ReadOnlySpan<float> values)
    {
        var set = new HashSet<int>();
        foreach (float v in values) set.Add(BitConverter.SingleToInt32Bits(v));
        return set.Count;
    }
}
