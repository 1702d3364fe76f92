// The Hessian GPTQ and SparseGPT need for one Linear layer, H = 2/n Σ x xᵀ over the n calibration rows x of the layer's
// input (Frantar et al. 2022, §3: the layer-wise objective ‖WX − ŴX‖² has Hessian 2XXᵀ, averaged over the
// samples). It streams (ProductSum): rows are buffered into chunks whose XᵀX a float32 GEMM takes and a double sum
// keeps, so memory stays at in × in doubles whatever the calibration set's size.
using Condense.Tensors;

namespace Condense.Calibration;

/// <summary>Streaming accumulator of GPTQ's Hessian H = 2/n Σ x xᵀ over calibration activations x ∈ ℝ^in.</summary>
public sealed class InputHessian
{
    private readonly ProductSum _sum;
    private readonly double[] _featureSums;

    /// <summary>Creates an empty accumulator for a layer with <paramref name="features"/> input features.</summary>
    public InputHessian(int features)
    {
        // in × in must index an array: in ≤ 46,340 (transformer layers have a few thousand at most).
        if (features is < 1 or > 46_340) throw new CondenseException($"GPTQ Hessian needs 1–46340 input features, got {features}");
        Features = features;
        _sum = new ProductSum(features, features, symmetric: true);
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
        _sum.Add(x, default, rows);
        for (int r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * Features, Features);
            for (int j = 0; j < Features; j++) _featureSums[j] += row[j];
        }
        Samples += rows;
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
        var sum = _sum.Sum();
        var h = new double[sum.Length];
        // The lower triangle is the reference; mirroring it makes H exactly symmetric whatever the GEMM's rounding.
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                h[i * n + j] = h[j * n + i] = factor * sum[i * n + j];
        return h;
    }
}
