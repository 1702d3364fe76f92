// Block-wise symmetric weight quantization (as GPTQ/AWQ-style int4 checkpoints and ONNX Runtime's
// MatMulNBits store weights): every run of `blockSize` consecutive input features of an output row shares
// one scale, s = max|w| / qmax over the block, q = clamp(round_half_even(w / s), −qmax, qmax). A finer grain
// than one scale per row keeps 4-bit error low where a row mixes large and small weights.
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>Block-wise symmetric quantization of a Linear weight [out, in] along its input axis.</summary>
public static class BlockwiseQuantizer
{
    /// <summary>
    /// The integers (same shape as <paramref name="weight"/>) and the scales [out, ceil(in / blockSize)] of a
    /// symmetric block-wise quantization into <paramref name="range"/> (its QMax is the largest magnitude).
    /// </summary>
    public static (Tensor Integers, Tensor Scales) Quantize(Tensor weight, int blockSize, QuantRange range)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Rank != 2) throw new CondenseException($"block-wise quantization needs a [out, in] weight, got {Shape.Format(weight.Shape)}");
        if (blockSize < 1) throw new CondenseException($"block size must be positive, got {blockSize}");
        int rows = weight.Shape[0], k = weight.Shape[1], blocks = (k + blockSize - 1) / blockSize;
        var integers = new float[weight.Size];
        var scales = new float[rows * blocks];
        for (int r = 0; r < rows; r++)
            for (int b = 0; b < blocks; b++)
            {
                int start = r * k + b * blockSize, end = r * k + Math.Min(k, (b + 1) * blockSize);
                float maxAbs = 0f;
                for (int i = start; i < end; i++) maxAbs = Math.Max(maxAbs, MathF.Abs(weight.Data[i]));
                // An all-zero block keeps the smallest scale PyTorch's observers use, never zero (ONNX needs s > 0).
                float s = Math.Max(maxAbs / range.QMax, QuantParams.MinScale);
                scales[r * blocks + b] = s;
                for (int i = start; i < end; i++)
                    integers[i] = Kernels.Int8Gemm.QuantizeLinear.Quantize(weight.Data[i], s, 0, -range.QMax, range.QMax);
            }
        return (new Tensor(integers, weight.Shape), new Tensor(scales, [rows, blocks]));
    }
}
