// Benchmark of Kernels/Sparse/SparseGemm against the dense Gemm on pruned LeNet-300-100 (784→300→100→10) in the same
// run: the whole forward (Linear + bias + ReLU chain) and each layer at batch 1 and 256 with 90% of the
// weights pruned globally by magnitude, then a sweep over sparsity that suggests, per batch size, the
// sparsity above which a Linear layer should run on the sparse kernel. Every chain is first checked
// against the dense result.
using System.Numerics.Tensors;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Kernels.Sparse;
using Condense.Tensors;

namespace Condense.Bench;

/// <summary>`sparse`: µs per forward of the dense and the sparse LeNet-300-100 chain, and their ratio.</summary>
internal static class SparseBench
{
    private static readonly int[] Sizes = [784, 300, 100, 10];
    private static readonly int[] Batches = [1, 256];
    private static readonly double[] Sweep = [0.5, 0.7, 0.8, 0.9, 0.95, 0.98];

    /// <summary>Runs the benchmark; returns an exit code (1 if a sparse result disagrees with the dense one).</summary>
    public static int Run(string[] args)
    {
        _ = args;
        var rng = new Rng(42);
        // Weights [out, in] uniform in ±1/√in (PyTorch's Linear init), biases likewise; biases stay dense.
        var weights = new float[3][]; var biases = new float[3][];
        for (int l = 0; l < 3; l++)
        {
            float bound = 1f / MathF.Sqrt(Sizes[l]);
            weights[l] = Uniform(rng, Sizes[l + 1] * Sizes[l], bound);
            biases[l] = Uniform(rng, Sizes[l + 1], bound);
        }
        Console.WriteLine($"SparseGemm vs Gemm on LeNet-300-100, path {Cpu.Active}, {Cpu.Threads} threads; µs per forward, best of repeated runs");
        Console.WriteLine("weights pruned globally by magnitude (one threshold over all three matrices); dense = Gemm(transB) + bias + ReLU");
        int failures = 0;

        var pruned = Prune(weights, 0.9);
        var csr = Csr(pruned);
        string densities = string.Join(", ", csr.Select((c, l) => $"fc{l + 1} {c.Rows}×{c.Cols} {100 * c.Density:0.0}% ({c.NonZeros} nz)"));
        Console.WriteLine($"90% sparsity: layer densities {densities}");
        Console.WriteLine();
        Console.WriteLine($"{"forward, 90% sparse",-22} {"batch",5} {"dense",10} {"sparse",10} {"dense/sparse",12} {"sparse 1 thr",12}");
        foreach (int m in Batches)
        {
            var chain = new Chain(pruned, biases, csr, m, new Rng(7));
            if (!chain.Agree()) { Console.WriteLine($"batch {m}: MISMATCH between the sparse and dense forward"); failures++; continue; }
            double dense = Micros(chain.Dense), sparse = Micros(chain.Sparse), one = OneThread(chain.Sparse);
            Console.WriteLine($"{"chain",-22} {m,5} {dense,10:0.00} {sparse,10:0.00} {dense / sparse,11:0.00}× {one,12:0.00}");
            for (int l = 0; l < 3; l++)
            {
                int layer = l;
                double d = Micros(() => chain.DenseLayer(layer)), s = Micros(() => chain.SparseLayer(layer)), s1 = OneThread(() => chain.SparseLayer(layer));
                Console.WriteLine($"{$"  fc{l + 1} {Sizes[l]}→{Sizes[l + 1]}",-22} {m,5} {d,10:0.00} {s,10:0.00} {d / s,11:0.00}× {s1,12:0.00}");
            }
        }

        Console.WriteLine();
        Console.WriteLine("sweep: whole forward, dense/sparse speed ratio (> 1: sparse is faster)");
        Console.WriteLine($"{"sparsity",8} {string.Join(" ", Batches.Select(m => $"{$"b={m} dense",12} {$"b={m} sparse",12} {"ratio",6}"))}");
        var ratios = Batches.ToDictionary(m => m, _ => new List<double>());
        var denseTimes = new Dictionary<int, double>();
        foreach (double sparsity in Sweep)
        {
            var p = Prune(weights, sparsity);
            var c = Csr(p);
            var cells = new List<string>();
            foreach (int m in Batches)
            {
                var chain = new Chain(p, biases, c, m, new Rng(7));
                if (!chain.Agree()) { Console.WriteLine($"{sparsity:P0} batch {m}: MISMATCH"); failures++; }
                // The dense chain's time does not depend on the values, but each row re-measures it so the
                // ratio compares two timings taken moments apart on this noisy machine.
                double dense = Micros(chain.Dense), sparse = Micros(chain.Sparse);
                denseTimes[m] = dense;
                ratios[m].Add(dense / sparse);
                cells.Add($"{dense,12:0.00} {sparse,12:0.00} {dense / sparse,6:0.00}");
            }
            Console.WriteLine($"{sparsity,8:P0} {string.Join(" ", cells)}");
        }
        Console.WriteLine();
        foreach (int m in Batches)
            Console.WriteLine($"batch {m}: {Suggest(ratios[m])}");
        return failures == 0 ? 0 : 1;
    }

    /// <summary>The break-even sparsity (ratio 1) interpolated between sweep points, and the sweep point to use as the threshold.</summary>
    private static string Suggest(List<double> ratios)
    {
        // The threshold is the lowest sweep sparsity from which the sparse kernel wins at every higher one.
        int first = ratios.Count;
        while (first > 0 && ratios[first - 1] > 1) first--;
        if (first == ratios.Count) return $"sparse never wins up to {Sweep[^1]:P0}: keep the dense kernel";
        if (first == 0) return $"sparse already wins at {Sweep[0]:P0} (ratio {ratios[0]:0.00}): suggested threshold {Sweep[0]:P0} or lower";
        double lo = Sweep[first - 1], hi = Sweep[first], rl = ratios[first - 1], rh = ratios[first];
        double even = lo + (hi - lo) * (1 - rl) / (rh - rl);
        return $"break-even ≈ {even:P0} sparsity; suggested threshold {hi:P0} (ratio {rh:0.00} there)";
    }

    private static double Micros(Action action) => Timing.MeasureSeconds(action, 0.25) * 1e6;

    private static double OneThread(Action action)
    {
        int saved = Cpu.Threads;
        Cpu.Threads = 1;
        try { return Micros(action); }
        finally { Cpu.Threads = saved; }
    }

    private static float[] Uniform(Rng rng, int count, float bound)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++) x[i] = (2 * rng.NextFloat() - 1) * bound;
        return x;
    }

    /// <summary>Copies of <paramref name="weights"/> with the smallest-magnitude <paramref name="sparsity"/> of all their entries zeroed.</summary>
    private static float[][] Prune(float[][] weights, double sparsity)
    {
        var magnitudes = weights.SelectMany(w => w).Select(MathF.Abs).ToArray();
        Array.Sort(magnitudes);
        int cut = (int)Math.Round(sparsity * magnitudes.Length);
        float threshold = cut == 0 ? -1f : magnitudes[cut - 1];   // zero |w| <= threshold: the `cut` smallest (no ties in practice)
        return weights.Select(w => w.Select(v => MathF.Abs(v) <= threshold ? 0f : v).ToArray()).ToArray();
    }

    private static CsrMatrix[] Csr(float[][] weights) =>
        Enumerable.Range(0, 3).Select(l => CsrMatrix.FromDense(weights[l], Sizes[l + 1], Sizes[l])).ToArray();

    /// <summary>One batch through the three layers, dense and sparse, with preallocated activations.</summary>
    private sealed class Chain
    {
        private readonly float[][] _weights, _biases;
        private readonly CsrMatrix[] _csr;
        private readonly int _m;
        private readonly float[] _x;
        private readonly float[][] _dense, _sparse;   // activations after each layer

        public Chain(float[][] weights, float[][] biases, CsrMatrix[] csr, int m, Rng rng)
        {
            (_weights, _biases, _csr, _m) = (weights, biases, csr, m);
            _x = new float[m * Sizes[0]];
            for (int i = 0; i < _x.Length; i++) _x[i] = rng.NextFloat();   // pixel-like inputs in [0, 1)
            _dense = Enumerable.Range(1, 3).Select(l => new float[m * Sizes[l]]).ToArray();
            _sparse = Enumerable.Range(1, 3).Select(l => new float[m * Sizes[l]]).ToArray();
        }

        public void Dense() { for (int l = 0; l < 3; l++) DenseLayer(l); }

        public void Sparse() { for (int l = 0; l < 3; l++) SparseLayer(l); }

        public void DenseLayer(int l)
        {
            var input = l == 0 ? _x : _dense[l - 1];
            var y = _dense[l];
            int n = Sizes[l + 1];
            Gemm.Multiply(false, true, _m, n, Sizes[l], input, _weights[l], y);
            for (int i = 0; i < _m; i++) TensorPrimitives.Add(y.AsSpan(i * n, n), _biases[l], y.AsSpan(i * n, n));
            if (l < 2) TensorPrimitives.Max(y, 0f, y);
        }

        public void SparseLayer(int l)
        {
            var input = l == 0 ? _x : _sparse[l - 1];
            SparseGemm.LinearForward(_csr[l], input, _m, _biases[l], _sparse[l]);
            if (l < 2) TensorPrimitives.Max(_sparse[l], 0f, _sparse[l]);
        }

        /// <summary>True when the sparse logits match the dense ones within float rounding.</summary>
        public bool Agree()
        {
            Dense(); Sparse();
            float scale = TensorPrimitives.MaxMagnitude(_dense[2]);
            for (int i = 0; i < _dense[2].Length; i++)
                if (!(Math.Abs(_dense[2][i] - _sparse[2][i]) <= 1e-4f * Math.Max(1f, scale))) return false;
            return true;
        }
    }
}
