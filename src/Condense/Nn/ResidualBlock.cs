// The basic residual block of He et al., "Deep Residual Learning for Image Recognition" (2016), §3–4:
// y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where the shortcut is the identity, or a
// 1×1 convolution with batch norm when the block changes the channel count or the resolution ("option B").
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>Two 3×3 conv–batch-norm layers with a skip connection added before the last ReLU.</summary>
public sealed class ResidualBlock : Module
{
    /// <summary>Creates the block; <paramref name="stride"/> 2 halves the resolution in the first conv and the shortcut.</summary>
    public ResidualBlock(int inChannels, int outChannels, int stride = 1, Rng? rng = null)
    {
        rng ??= new Rng(0);
        Conv1 = RegisterModule("conv1", new Conv2d(inChannels, outChannels, 3, stride: stride, padding: 1, bias: false, rng: rng));
        Bn1 = RegisterModule("bn1", new BatchNorm2d(outChannels));
        Conv2 = RegisterModule("conv2", new Conv2d(outChannels, outChannels, 3, padding: 1, bias: false, rng: rng));
        Bn2 = RegisterModule("bn2", new BatchNorm2d(outChannels));
        if (stride != 1 || inChannels != outChannels)
            Shortcut = RegisterModule("shortcut", new Sequential(
                new Conv2d(inChannels, outChannels, 1, stride: stride, bias: false, rng: rng), new BatchNorm2d(outChannels)));
    }

    /// <summary>The first 3×3 convolution (carries the stride).</summary>
    public Conv2d Conv1 { get; }
    /// <summary>Batch norm after <see cref="Conv1"/>.</summary>
    public BatchNorm2d Bn1 { get; }
    /// <summary>The second 3×3 convolution.</summary>
    public Conv2d Conv2 { get; }
    /// <summary>Batch norm after <see cref="Conv2"/>.</summary>
    public BatchNorm2d Bn2 { get; }
    /// <summary>The projection shortcut (1×1 conv + batch norm), or null for the identity.</summary>
    public Sequential? Shortcut { get; }

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var main = Bn2.Forward(Conv2.Forward(Bn1.Forward(Conv1.Forward(input)).Relu()));
        var skip = Shortcut is null ? input : Shortcut.Forward(input);
        return main.Add(skip).Relu();
    }
}
