// The integer-only engine for static-quantized convolutional networks (Jacob et al. 2018): a QDQ graph
// (docs/quantized-graph.md) of Conv and Gemm layers, residual Adds, Concats, ReLU, pooling and reshapes, compiled
// (IntegerConvModel.Compile*.cs) into a list of steps over numbered buffers ("slots"), in the graph's node order: a DAG
// runs as its topological order, and a buffer goes back to the pool after the last step that reads it. A slot holds
// uint8 codes of one (s, z) or floats. Images stay NCHW, the float graph's layout, so reshapes are free (a new name for
// the same slot) and a convolution (Kernels/Int8Conv/QConv2d, direct; a depthwise one QDepthwiseConv2d) reads and writes
// whole image rows. A layer or an Add whose output the graph quantizes requantizes straight to that (s, z) in integers
// (ReLU fused as qmin = z_y, a constant Clip after a layer as the clamp [Q(min), Q(max)]);
// MaxPool runs on the codes (max commutes with the monotone dequantization). Whatever the graph leaves in float after
// the integer part (the last layer's output, a final average pooling) runs in float, as the graph's own ops
// (IntegerConvModel.Steps.cs). MLPs go to IntegerModel.
using System.Buffers;
using Condense.Kernels.Conv;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Int8Gemm;
using Condense.Kernels.Pool;
using Condense.Nn;
using Condense.Tensors;
using Node = Condense.Graph.Node;

namespace Condense.Inference;

/// <summary>
/// An int8 inference engine for a static-quantized network of Conv / Linear layers with residual Adds, ReLU, pooling
/// and reshapes; the QDQ graph's function (its float simulation) within one output step per requantization. Inference only.
/// </summary>
public sealed partial class IntegerConvModel : Module
{
    // A buffer: uint8 codes or floats, Size values per sample; Value names the QuantizeLinear output codes equal (if any);
    // ChannelsLast is the (C, H, W) of codes held as (H, W, C).
    internal sealed record Slot(bool IsFloat, int Size, string? Value = null, int[]? ChannelsLast = null);

    internal abstract record Step(int Output);

    // The float graph input quantized to (s, z).
    internal sealed record QuantizeStep(int Input, int Output, float Scale, byte ZeroPoint) : Step(Output);

    // Codes → floats (q − z)·s, for float ops that read a dequantized value.
    internal sealed record DequantizeStep(int Input, int Output, float Scale, byte ZeroPoint, int Size) : Step(Output);

    // One Conv or Gemm on codes with InputZeroPoint. Requantized (Requantized true): to OutputZeroPoint with (Multiplier,
    // Shift) per channel, ReLU/Clip as the clamp [QMin, QMax]; else floats acc · OutputScale[o] clamped to [FloatMin, FloatMax]
    // (its ReLU/Clip; Relu when FloatMin is 0). Depthwise: the raw (M, 1, kH, kW) weight of a depthwise conv (run by
    // QDepthwiseConv2d, planar or channels-last; Weight is then unused). InputShape is the
    // per-sample (C, H, W) or (features); InputValue names the graph value (a QuantizeLinear output) the input codes equal.
    internal sealed record LayerStep(string Name, string InputValue, int Input, int Output, int[] InputShape, Conv2dOptions? Conv,
        int KernelH, int KernelW, PackedInt8Weights Weight, byte InputZeroPoint, int[] Bias, int[] Multiplier, int[] Shift,
        byte OutputZeroPoint, byte QMin, float[] OutputScale, bool Relu, bool Requantized, bool ChannelsLast = false, sbyte[]? Depthwise = null,
        byte QMax = byte.MaxValue) : Step(Output)
    {
        /// <summary>Output channels or features (M).</summary>
        public int OutFeatures => Depthwise is { } w ? w.Length / (KernelH * KernelW) : Weight.OutFeatures;

        /// <summary>The lower bound of a float output (0 after a ReLU).</summary>
        public float FloatMin { get; init; } = float.NegativeInfinity;

        /// <summary>The upper bound of a float output (a Clip's, as ReLU6's 6).</summary>
        public float FloatMax { get; init; } = float.PositiveInfinity;
    }

    // A residual Add of two code tensors: requantized by Kernels/Int8Conv/QAdd (Multipliers for a and b with one Shift),
    // or in float (a − z_a)·s_a + (b − z_b)·s_b, ReLU fused either way; a float sum of channels-last codes of (C, H, W)
    // ChannelsLast is written in the graph's layout.
    internal sealed record AddStep(string Name, int A, int B, int Output, int Size, byte ZeroPointA, byte ZeroPointB, float ScaleA, float ScaleB,
        int MultiplierA, int MultiplierB, int Shift, byte OutputZeroPoint, byte QMin, bool Relu, bool Requantized, int[]? ChannelsLast = null)
        : Step(Output);

    internal sealed record MaxPoolStep(string Name, int Input, int Output, int[] InputShape, PoolParameters Window, bool ChannelsLast) : Step(Output);

    // An AveragePool whose window is the whole (unpadded) image: each plane's mean, summed as the pooling kernel sums.
    internal sealed record MeanStep(int Input, int Output, int Planes, int Pixels) : Step(Output);

    // Codes (C, H, W) per sample to (H, W, C) (ToChannelsLast) or back.
    internal sealed record LayoutStep(int Input, int Output, int Channels, int Pixels, bool ToChannelsLast) : Step(Output);

    // A float op of the graph (Relu, pooling, Pad, Add of floats) run as the graph runs it, on (N, InputShape…) tensors: input i
    // of the node is the slot Inputs[Fed[i]], or Constants[i] where Fed[i] is −1 (an initializer, or null for an absent input).
    internal sealed record FloatNodeStep(Node Node, int[] Inputs, int Output, int[][] InputShapes, Tensor?[] Constants, int[] Fed) : Step(Output);

    private readonly Step[] _steps;
    private readonly Slot[] _slots;
    private readonly int[] _lastUse;        // per slot: the index of the last step reading it (the output: past the end)
    private readonly int[] _sampleShape;    // the graph input per sample
    private readonly int[] _outputShape;    // the graph output per sample
    private readonly int _outputSlot;
    private readonly int[] _fusedAdd;       // per step: for a channels-last layer, the Add step it runs on its rows (else −1)
    private readonly bool[] _doneByLayer;   // per step: an Add that a layer runs (skipped unless run step by step)

    private IntegerConvModel(Step[] steps, Slot[] slots, int[] sampleShape, int[] outputShape, int outputSlot)
    {
        (_steps, _slots, _sampleShape, _outputShape, _outputSlot) = (steps, slots, sampleShape, outputShape, outputSlot);
        _lastUse = new int[slots.Length];
        for (int i = 0; i < steps.Length; i++)
            foreach (int slot in Inputs(steps[i])) _lastUse[slot] = i;
        _lastUse[outputSlot] = steps.Length;
        (_fusedAdd, _doneByLayer) = ResidualFusions(steps, outputSlot);
        Eval();
    }

    /// <summary>The number of compiled Conv and Linear layers.</summary>
    public int LayerCount => _steps.OfType<LayerStep>().Count();

    internal IReadOnlyList<Step> Steps => _steps;

    /// <summary>Whether layers run the residual Adds fused to them (true; false runs every Add as its own step, for the tests).</summary>
    internal bool FuseResidualAdds { get; set; } = true;

    /// <summary>How many Adds a layer runs on its rows.</summary>
    internal int FusedAddCount => _doneByLayer.Count(d => d);

    /// <summary>When set, called after each step with its index and its time in Stopwatch ticks (the int8-resnet bench's profile).</summary>
    internal Action<int, long>? StepTimer { get; set; }

    /// <summary>Outputs for a float input (N, …) holding one graph input per sample. Throws in training mode.</summary>
    public override Tensor Forward(Tensor input) =>
        input is { Rank: >= 1 } && ImageShares(input.Shape[0]) is > 1 and var parts ? RunShares(input, parts) : RunWhole(input);

    private Tensor RunWhole(Tensor input)
    {
        LastPassShares = 1;
        return RunSplitOrNot(input);
    }

    /// <summary>Forward that also returns each layer's uint8 input in the float graph's layout, keyed by the graph value it equals.</summary>
    internal (Tensor Logits, Dictionary<string, byte[]> Activations) ForwardWithActivations(Tensor input)
    {
        var activations = new Dictionary<string, byte[]>();
        return (Run(input, activations), activations);
    }

    /// <summary>
    /// Each step's uint8 output computed from the <paramref name="simulation"/>'s codes of its inputs (every code buffer is
    /// replaced by the simulation's value of the same name once recorded), keyed by the QuantizeLinear output it equals:
    /// the one-step-at-a-time comparison with the float simulation, free of differences carried from earlier steps.
    /// </summary>
    internal Dictionary<string, byte[]> ForwardStepwise(Tensor input, IReadOnlyDictionary<string, Tensor> simulation)
    {
        var outputs = new Dictionary<string, byte[]>();
        Run(input, null, (outputs, simulation));
        return outputs;
    }

    // Code buffers hold this many bytes past their values: a channels-last convolution reads up to 3 past the last pixel.
    private const int CodeSlack = 4;

    // A copy of codes in the graph's (N, C, H, W) layout.
    private static byte[] Planar(Slot slot, ReadOnlySpan<byte> codes, int n)
    {
        if (slot.ChannelsLast is not [int c, int h, int w]) return codes.ToArray();
        var planar = new byte[codes.Length];
        ChannelsLast.ToPlanar(codes, n, c, h * w, planar);
        return planar;
    }

    // A requantized Add whose operand is the codes of a channels-last layer read by nothing else, and whose other operand
    // exists before that layer runs, is run by the layer on each output row (QConv2d.ForwardChannelsLast with a FusedAdd):
    // the same integer steps without a pass over three images.
    private static (int[] FusedAdd, bool[] DoneByLayer) ResidualFusions(Step[] steps, int outputSlot)
    {
        var producer = new Dictionary<int, int>();
        var readers = new Dictionary<int, int>();
        for (int i = 0; i < steps.Length; i++)
        {
            producer[steps[i].Output] = i;
            foreach (int slot in Inputs(steps[i])) readers[slot] = readers.GetValueOrDefault(slot) + 1;
        }
        var fused = Enumerable.Repeat(-1, steps.Length).ToArray();
        var done = new bool[steps.Length];
        for (int i = 0; i < steps.Length; i++)
        {
            if (steps[i] is not AddStep { Requantized: true } add || add.A == add.B) continue;
            foreach (var (conv, other) in new[] { (add.A, add.B), (add.B, add.A) })
            {
                if (!producer.TryGetValue(conv, out int j)
                    || steps[j] is not LayerStep { ChannelsLast: true, Requantized: true, Conv: not null, Depthwise: null }
                    || readers[conv] != 1 || conv == outputSlot || producer.GetValueOrDefault(other, -1) >= j || fused[j] >= 0) continue;
                (fused[j], done[i]) = (i, true);
                break;
            }
        }
        return (fused, done);
    }

    private static IEnumerable<int> Inputs(Step step) => step switch
    {
        QuantizeStep s => [s.Input],
        DequantizeStep s => [s.Input],
        LayerStep s => [s.Input],
        AddStep s => [s.A, s.B],
        MaxPoolStep s => [s.Input],
        LayoutStep s => [s.Input],
        MeanStep s => [s.Input],
        FloatNodeStep s => s.Inputs,
        RequantizeStep s => s.Inputs,
        ChannelAffineStep s => s.Inputs,
        AveragePoolStep s => [s.Input],
        _ => throw new InvalidOperationException($"unknown step {step}"),
    };

    // The buffers of one call: slot 0 is the caller's input; the others come from the shared pools.
    private sealed class Buffers(int slots, Tensor input)
    {
        public readonly byte[]?[] Codes = new byte[]?[slots];
        public readonly float[]?[] Floats = new float[]?[slots];
        public readonly Tensor Input = input;

        public void Return(int slot)
        {
            if (Codes[slot] is { } codes) ArrayPool<byte>.Shared.Return(codes);
            if (slot > 0 && Floats[slot] is { } floats) ArrayPool<float>.Shared.Return(floats);
            (Codes[slot], Floats[slot]) = (null, null);
        }
    }

    private Tensor Run(Tensor input, Dictionary<string, byte[]>? activations,
        (Dictionary<string, byte[]> Outputs, IReadOnlyDictionary<string, Tensor> Simulation)? stepwise = null)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (Training)
            throw new CondenseException(
                "an IntegerConvModel runs inference only (integer weights, no gradients); call Eval(), and train the float or QDQ model instead");
        int sample = _sampleShape.Aggregate(1, (a, b) => a * b);
        if (input.Rank < 1 || input.Shape[0] == 0 || input.Size != (long)input.Shape[0] * sample)
            throw new CondenseException(
                $"input of shape {Shape.Format(input.Shape)} does not fit an integer model with input {Shape.Format(_sampleShape)} per sample");
        int n = input.Shape[0];
        var buffers = new Buffers(_slots.Length, input);
        buffers.Floats[0] = input.Data;
        try
        {
            for (int i = 0; i < _steps.Length; i++)
            {
                var step = _steps[i];
                var slot = _slots[step.Output];
                if (slot.IsFloat) buffers.Floats[step.Output] ??= ArrayPool<float>.Shared.Rent(n * slot.Size);
                else buffers.Codes[step.Output] ??= ArrayPool<byte>.Shared.Rent(n * slot.Size + CodeSlack);
                if (activations is not null && step is LayerStep layer)
                    activations[layer.InputValue] = Planar(_slots[layer.Input], buffers.Codes[layer.Input].AsSpan(0, n * _slots[layer.Input].Size), n);
                long start = StepTimer is null ? 0 : System.Diagnostics.Stopwatch.GetTimestamp();
                bool fuse = stepwise is null && FuseResidualAdds;
                if (fuse && _fusedAdd[i] >= 0)
                {
                    var add = (AddStep)_steps[_fusedAdd[i]];
                    buffers.Codes[add.Output] ??= ArrayPool<byte>.Shared.Rent(n * _slots[add.Output].Size + CodeSlack);
                    Layer((LayerStep)step, buffers, n, add);
                }
                else if (!(fuse && _doneByLayer[i])) Execute(step, buffers, n);
                StepTimer?.Invoke(i, System.Diagnostics.Stopwatch.GetTimestamp() - start);
                if (stepwise is var (outputs, simulation) && !slot.IsFloat && slot.Value is { } name)
                {
                    var codes = buffers.Codes[step.Output].AsSpan(0, n * slot.Size);
                    outputs[name] = Planar(slot, codes, n);
                    var replaced = new byte[codes.Length];
                    for (int k = 0; k < codes.Length; k++) replaced[k] = (byte)simulation[name].Data[k];
                    if (slot.ChannelsLast is [int c, int h, int w]) ChannelsLast.FromPlanar(replaced, n, c, h * w, codes);
                    else replaced.CopyTo(codes);
                }
                foreach (int read in Inputs(step))
                    if (_lastUse[read] == i && read != _outputSlot) buffers.Return(read);
            }
            int size = _slots[_outputSlot].Size;
            return new Tensor(buffers.Floats[_outputSlot].AsSpan(0, n * size).ToArray(), [n, .. _outputShape]);
        }
        finally
        {
            for (int s = 0; s < _slots.Length; s++) buffers.Return(s);
        }
    }
}
