// Pooling layers over (N, C, H, W) inputs, as torch.nn's: thin wrappers of the ops in
// Autograd/Ops.Pool.cs. Their graph forms (MaxPool, AveragePool, GlobalAveragePool) are in Graph/ModuleTracers.cs.
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>2-D max pooling, as torch.nn.MaxPool2d; the stride defaults to the kernel size.</summary>
public sealed class MaxPool2d(int kernelSize, int? stride = null, int padding = 0, int dilation = 1, bool ceilMode = false) : Module
{
    /// <summary>The pooling window (square kernel, symmetric padding).</summary>
    public PoolWindow Window { get; } = PoolWindow.Square(kernelSize, stride, padding, dilation, ceilMode);

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.MaxPool2d(Window);
}

/// <summary>2-D average pooling, as torch.nn.AvgPool2d (count_include_pad true by default, as in PyTorch).</summary>
public sealed class AvgPool2d(int kernelSize, int? stride = null, int padding = 0, bool ceilMode = false, bool countIncludePad = true) : Module
{
    /// <summary>The pooling window (square kernel, symmetric padding, no dilation).</summary>
    public PoolWindow Window { get; } = PoolWindow.Square(kernelSize, stride, padding, 1, ceilMode);

    /// <summary>Whether padded positions count in the divisor.</summary>
    public bool CountIncludePad { get; } = countIncludePad;

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.AvgPool2d(Window, CountIncludePad);
}

/// <summary>Global average pooling (N, C, H, W) → (N, C, 1, 1), as torch.nn.AdaptiveAvgPool2d(1); a Flatten usually follows.</summary>
public sealed class GlobalAvgPool2d : Module
{
    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => input.Rank == 4 ? input.GlobalAvgPool()
        : throw new CondenseException($"GlobalAvgPool2d needs an (N, C, H, W) input, got shape {Shape.Format(input.Shape)}");
}
