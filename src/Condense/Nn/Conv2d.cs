// The 2-D convolution layer (torch.nn.Conv2d): parameters "weight" (out, in/groups, kH, kW) and "bias" (out),
// as in PyTorch state dicts, over Tensor.Conv2d. Its graph form (an ONNX Conv node) is in Graph/ModuleTracers.cs.
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>2-D convolution over NCHW input: y = conv(x, W) + b.</summary>
public sealed class Conv2d : Module
{
    /// <summary>
    /// Creates the layer with a square kernel and PyTorch's integer arguments (the same stride, padding on
    /// every side, and dilation along both axes), initialised as PyTorch does (see the other constructor).
    /// </summary>
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1,
        int groups = 1, bool bias = true, Rng? rng = null)
        : this(inChannels, outChannels, kernelSize, kernelSize, Conv2dOptions.Square(stride, padding, dilation, groups), bias, rng) { }

    /// <summary>
    /// Creates the layer with a kH × kW kernel and full options (per-axis stride and dilation, per-side
    /// padding). PyTorch's default initialisation: kaiming-uniform with a = √5, which is
    /// U(−1/√fan_in, 1/√fan_in) for the weight, and the same bound for the bias; fan_in = in/groups · kH · kW.
    /// </summary>
    public Conv2d(int inChannels, int outChannels, int kernelH, int kernelW, Conv2dOptions options, bool bias = true, Rng? rng = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (inChannels <= 0 || outChannels <= 0 || kernelH <= 0 || kernelW <= 0)
            throw new CondenseException($"Conv2d needs positive sizes, got {inChannels}→{outChannels} channels, kernel {kernelH}×{kernelW}");
        if (inChannels % options.Groups != 0 || outChannels % options.Groups != 0)
            throw new CondenseException($"Conv2d channels {inChannels}→{outChannels} are not divisible by groups = {options.Groups}");
        rng ??= new Rng(0);
        Options = options;
        // gain = √(2 / (1 + a²)) = √(1/3) for a = √5; bound = gain · √(3 / fan_in) = 1/√fan_in (torch.nn.init.kaiming_uniform_).
        int fanIn = inChannels / options.Groups * kernelH * kernelW;
        float bound = 1f / MathF.Sqrt(fanIn);
        Weight = RegisterParameter("weight", new Parameter(Tensor.Uniform(rng, -bound, bound, outChannels, inChannels / options.Groups, kernelH, kernelW)));
        if (bias) Bias = RegisterParameter("bias", new Parameter(Tensor.Uniform(rng, -bound, bound, outChannels)));
    }

    /// <summary>The weight, (out, in/groups, kH, kW).</summary>
    public Parameter Weight { get; }

    /// <summary>The bias, (out), or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Stride, padding, dilation and groups.</summary>
    public Conv2dOptions Options { get; }

    /// <summary>Input channels.</summary>
    public int InChannels => Weight.Shape[1] * Options.Groups;

    /// <summary>Output channels.</summary>
    public int OutChannels => Weight.Shape[0];

    /// <summary>Kernel height.</summary>
    public int KernelH => Weight.Shape[2];

    /// <summary>Kernel width.</summary>
    public int KernelW => Weight.Shape[3];

    /// <inheritdoc />
    public override Tensor Forward(Tensor input) => Tensor.Conv2d(input, Weight, Bias, Options);
}
