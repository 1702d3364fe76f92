// The Hessian GPTQ and SparseGPT need for one Linear layer, H = 2/n Σ x xᵀ over the n calibration rows x of the layer's
// input (Frantar et al. 2022, §3: the layer-wise objective ‖WX − ŴX‖² has Hessian 2XXᵀ, averaged over the
// samples). It streams: each batch adds its XᵀX to a double-precision sum, so memory stays at in × in doubles
// whatever the calibration set's size. A batch's product is taken in float32 by the GEMM kernel, a chunk of
// rows at a time (short sums keep float rounding near 1e-6 relative), and summed across chunks in double.
using Condense.Kernels.FloatGemm;
using Condense.Tensors;

namespace Condense.Calibration;

/// <summary>Streaming accumulator of GPTQ's Hessian H = 2/n Σ x xᵀ over calibration activations x ∈ ℝ^in.</summary>
public sealed class InputHessian
{
    // Rows per float32 GEMM before the partial sum moves into the double accumulator.
    private const int ChunkRows = 512;

    private readonly double[] _sum;
    private readonly double[] _featureSums;
    private float[]? _chunk;

    /// <summary>Creates an empty accumulator for a layer with <paramref name="features"/> input features.</summary>
    public InputHessian(int features)
    {
        // in × in must index an array: in ≤ 46,340 (transformer layers have a few thousand at most).
        if (features is < 1 or > 46_340) throw new CondenseException($"GPTQ Hessian needs 1–46340 input features, got {features}");
        Features = features;
        _sum = new double[features * features];
        _featureSums = new double[features];
    }

    /// <summary>The number of input features (the layer's <c>in</c>, the Hessian's side).</summary>
    public int Features { get; }

    /// <summary>The number of activation rows added so far (n).</summary>
    public long Samples { get; private set; }

    /// <summary>
    /// Adds a batch of the layer's input activations: [rows, in], or any rank whose last dimension is <c>in</c>
    /// (leading dimensions are rows, e.g. [batch, sequence, in]; leave padding tokens out before adding).
    /// </summary>
    public void Add(Tensor activations)
    {
        ArgumentNullException.ThrowIfNull(activations);
        if (activations.Rank < 1 || activations.Shape[^1] != Features)
            throw new CondenseException(
                $"GPTQ calibration activations {Shape.Format(activations.Shape)} do not have {Features} input features in the last dimension");
        var x = activations.Data;
        foreach (float v in x)
            if (!float.IsFinite(v)) throw new CondenseException("GPTQ calibration activations contain NaN or infinity");
        int rows = x.Length / Features;
        AddProduct(x, Features, x, Features, rows, _sum, ref _chunk);
        for (int r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * Features, Features);
            for (int j = 0; j < Features; j++) _featureSums[j] += row[j];
        }
        Samples += rows;
    }

    /// <summary>
    /// <paramref name="sum"/> += Xᵀ Y over <paramref name="rows"/> rows of X [rows, <paramref name="inputs"/>] and
    /// Y [rows, <paramref name="outputs"/>]: a float32 GEMM per chunk of rows, summed in double (<paramref name="chunk"/>
    /// is the caller's scratch, allocated on first use).
    /// </summary>
    internal static void AddProduct(ReadOnlySpan<float> x, int inputs, ReadOnlySpan<float> y, int outputs, int rows, double[] sum, ref float[]? chunk)
    {
        chunk ??= new float[inputs * outputs];
        for (int start = 0; start < rows; start += ChunkRows)
        {
            int count = Math.Min(ChunkRows, rows - start);
            // chunk = X_chunkᵀ · Y_chunk: A stored [count, in] read transposed, B [count, out] as stored.
            Gemm.Multiply(true, false, inputs, outputs, count, 1f, x.Slice(start * inputs, count * inputs), inputs,
                y.Slice(start * outputs, count * outputs), outputs, 0f, chunk, outputs);
            for (int i = 0; i < sum.Length; i++) sum[i] += chunk[i];
        }
    }

    /// <summary>The mean input 1/n Σ x (what a layer's bias must absorb when inputs are removed).</summary>
    /// <exception cref="CondenseException">No activations were added.</exception>
    public double[] Mean()
    {
        if (Samples == 0) throw new CondenseException("GPTQ Hessian has no calibration activations: add at least one batch");
        return [.. _featureSums.Select(s => s / Samples)];
    }

    /// <summary>H = 2/n Σ x xᵀ as a row-major [in, in] double matrix (a new array; symmetric).</summary>
    /// <exception cref="CondenseException">No activations were added.</exception>
    public double[] ToMatrix()
    {
        if (Samples == 0) throw new CondenseException("GPTQ Hessian has no calibration activations: add at least one batch");
        int n = Features;
        double factor = 2.0 / Samples;
        var h = new double[_sum.Length];
        // The lower triangle is the reference; mirroring it makes H exactly symmetric whatever the GEMM's rounding.
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                h[i * n + j] = h[j * n + i] = factor * _sum[i * n + j];
        return h;
    }
}
