// Channels-last inference for graphs made mostly of 1×1 and depthwise convolutions (MobileNets, EfficientNets): their
// chains (GraphModule.Inference.cs) run on (N, H, W, C) images (Kernels/Conv/ChannelsLastConv, DepthwiseChannelsLast; a stem
// of few taps reads the channels-first input, DirectChannelsLast), as ONNX Runtime runs such a graph in NCHWc and TFLite in
// NHWC, and the values between them stay in that layout; inverted residual blocks run as one pass
// (GraphModule.InvertedResidual.cs). A pass tracks which values are held channels-last; elementwise ops run on them as they are (Relu,
// Clip, Sigmoid, HardSwish and the like, and a static int8 graph's fused per-tensor quantize–dequantize pairs; Add, Sub, Mul,
// Div whose operands broadcast alike, as a squeeze-and-excitation scale does), a GlobalAveragePool reads them directly
// (its output is the same either way), and any other reader gets the value transposed back first (as does a graph
// output). A graph qualifies
// when at least four of its convolution chains, and three quarters of them, are 1×1 or depthwise: a ResNet (three 1×1
// shortcuts among twenty) stays channels-first, where its 3×3 kernels are, and so does one whose channels-last values
// would often be read by ops that need them channels-first (LayoutBreaks). Chosen where the AVX-512 kernels run
// (RunsChannelsLast). Outputs match the channels-first path within float rounding (the depthwise sums start from the
// bias), not bit for bit.
using Condense.Kernels.Conv;
using Condense.Kernels.Elementwise;
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    // A chain's weight as the channels-last kernels read it: packed for the product (1×1) or as (kH·kW, C) (depthwise),
    // made from this weight object at this version (and from this folded batch norm), for this kernel path.
    private sealed record ChannelsLastWeight(Tensor Source, int Version, FoldedConv? Folded, KernelPath Path, GemmPackedB? Pointwise,
        float[]? Lanes);

    private ChannelsLastWeight?[] _channelsLastWeights = [];

    /// <summary>
    /// Whether a graph that qualifies runs its 1×1 and depthwise chains channels-last: null (the default) where the AVX-512 kernels
    /// run, the only ones measured faster than channels-first (the AVX2 paths have no 3×3 register path, stem lanes or
    /// in-register tile finishing); true or false on any path (tests and benchmarks compare).
    /// </summary>
    internal bool? ChannelsLastInference { get; set; }

    private bool RunsChannelsLast => ChannelsLastInference ?? Cpu.Active == KernelPath.Avx512;

    /// <summary>Chains run channels-last so far (tests check that a graph took the path).</summary>
    internal int ChannelsLastRuns => _channelsLastRuns;

    private int _channelsLastRuns;

    // Per step: whether the chain that runs there runs channels-last; null when the graph does not qualify.
    private bool[]? ChannelsLastChains(Plan plan, ConvChain?[] runAt)
    {
        var chosen = new bool[plan.Steps.Length];
        int chains = 0, eligible = 0;
        foreach (var chain in runAt.OfType<ConvChain>())
        {
            chains++;
            var kind = KindOf(plan, chain);
            if (kind is ConvKind.Pointwise or ConvKind.Depthwise) { chosen[chain.Last] = true; eligible++; }
            // A stem of few taps writes channels-last from a channels-first input (DirectChannelsLast), without counting as one.
            else if (kind == ConvKind.FewTaps) chosen[chain.Last] = true;
        }
        _channelsLastWeights = new ChannelsLastWeight?[plan.Steps.Length];
        return eligible >= 4 && 4 * eligible >= 3 * chains && 4 * LayoutBreaks(plan, runAt, chosen) <= eligible ? chosen : null;
    }

    // How many steps would read a channels-last value and need it transposed back: the chosen chains' outputs, and the
    // elementwise results of them, read by anything but a chosen chain, an elementwise op or GlobalAveragePool. ShuffleNet's
    // branches end in a Concat and a channel shuffle (a pass back, and forth, per block): such graphs run channels-first.
    private static int LayoutBreaks(Plan plan, ConvChain?[] runAt, bool[] chosen)
    {
        var chainAt = new ConvChain?[plan.Steps.Length];
        foreach (var chain in runAt.OfType<ConvChain>())
            foreach (int step in chain.Steps) chainAt[step] = chain;
        var channelsLast = new bool[plan.Names.Length];
        int breaks = 0;
        for (int s = 0; s < plan.Steps.Length; s++)
        {
            var step = plan.Steps[s];
            bool readsLast = step.Inputs.Any(slot => slot >= 0 && channelsLast[slot]);
            if (chainAt[s] is { } chain)
            {
                if (readsLast && !chosen[chain.Last]) breaks++;
                if (s == chain.Last && chosen[s]) channelsLast[step.Outputs[0]] = true;
            }
            else if (UnaryOnImages.Contains(step.Node.OpType) || BinaryOnImages.Contains(step.Node.OpType))
                foreach (int slot in step.Outputs) channelsLast[slot] = readsLast;
            else if (readsLast && step.Node.OpType != OpTypes.GlobalAveragePool) breaks++;
        }
        return breaks;
    }

    // The chain's weight in the channels-last kernels' form, made once per weight (and folded batch norm) and kernel path.
    private ChannelsLastWeight KeptWeight(int convStep, ChainSetup setup, KernelPath path)
    {
        var (g, w, folded) = (setup.Geometry, setup.Weight, setup.Folded);
        var kept = _channelsLastWeights[convStep];
        if (kept is not null && ReferenceEquals(kept.Source, w) && kept.Version == w.Version && ReferenceEquals(kept.Folded, folded) && kept.Path == path)
            return kept;
        int size = g.OutChannels * g.ColumnRows;
        var plain = folded is null ? w.Data.AsSpan(0, size) : folded.Packed.SourcedWeight(size).AsSpan(0, size);
        var kind = KernelFor(g);
        return _channelsLastWeights[convStep] = new ChannelsLastWeight(w, w.Version, folded, path,
            kind == ConvKind.Pointwise ? ChannelsLastConv.PackPointwise(path, plain, g.OutChannels, g.InChannels) : null,
            kind == ConvKind.Depthwise ? DepthwiseChannelsLast.Pack(plain, g.InChannels, g.KernelH, g.KernelW)
            : kind == ConvKind.FewTaps ? DirectChannelsLast.Pack(plain, g.OutChannels, g.ColumnRows) : null);
    }

    private enum ConvKind { Other, Pointwise, Depthwise, FewTaps }

    // The channels-last kernel a geometry runs on (Other: none), in this order: a 1×1 product, depthwise rows, a stem of few taps.
    private static ConvKind KernelFor(Conv2dGeometry g) =>
        Conv2dGemm.Applies(g) ? ConvKind.Pointwise : DepthwiseChannelsLast.Applies(g) ? ConvKind.Depthwise
        : DirectChannelsLast.Applies(g) ? ConvKind.FewTaps : ConvKind.Other;

    // What a chain's convolution is, by its weight (an initializer): 1×1 ungrouped, depthwise, ungrouped of few taps, or other.
    private ConvKind KindOf(Plan plan, ConvChain chain)
    {
        var conv = plan.Steps[chain.Conv];
        if (conv.Inputs.Length < 2 || conv.Inputs[1] is not (>= 0 and var slot) || slot >= plan.InitializerCount
            || conv.Inputs[0] < plan.InitializerCount || Graph.Initializers[plan.Names[slot]] is not { Rank: 4 } w) return ConvKind.Other;
        int groups = (int)conv.Node.Int("group", 1);
        if (groups == 1 && w.Shape[2] == 1 && w.Shape[3] == 1) return ConvKind.Pointwise;
        if (groups == w.Shape[0] && w.Shape[1] == 1) return ConvKind.Depthwise;
        return groups == 1 && w.Size / w.Shape[0] <= DirectChannelsLast.MaxTaps ? ConvKind.FewTaps : ConvKind.Other;
    }

    // The channels-first (N, C, H, W) shape of a value, whichever layout it is held in.
    private static int[] FirstShape(Tensor value, bool last) =>
        last ? [value.Shape[0], value.Shape[3], value.Shape[1], value.Shape[2]] : value.Shape;

    /// <summary>Holds value <paramref name="slot"/> channels-first (transposing it back if it is channels-last).</summary>
    private static void ToChannelsFirst(Tensor?[] values, int slot, TensorArena? arena, bool[] layout)
    {
        if (slot < 0 || !layout[slot] || values[slot] is not { } value) return;
        var first = NewTensor(FirstShape(value, true), arena);
        Transpose(value, first, toLast: false);
        Replace(values, slot, first, arena);
        layout[slot] = false;
    }

    /// <summary>Holds value <paramref name="slot"/> (a 4-D float image) channels-last.</summary>
    private static void ToChannelsLast(Tensor?[] values, int slot, TensorArena arena, bool[] layout)
    {
        if (layout[slot] || values[slot] is not { } value) return;
        var last = PooledTensor([value.Shape[0], value.Shape[2], value.Shape[3], value.Shape[1]], arena);
        Transpose(value, last, toLast: true);
        Replace(values, slot, last, arena);
        layout[slot] = true;
    }

    private static unsafe void Transpose(Tensor from, Tensor to, bool toLast)
    {
        var s = toLast ? from.Shape : to.Shape; // channels-first
        fixed (float* x = from.Data, y = to.Data)
        {
            if (toLast) ChannelsLastConv.ToChannelsLast(x, y, s[0], s[1], s[2] * s[3]);
            else ChannelsLastConv.ToChannelsFirst(x, y, s[0], s[1], s[2] * s[3]);
        }
    }

    // A tensor of undefined contents: from the pass's arena, or the collector when there is none.
    private static Tensor NewTensor(int[] shape, TensorArena? arena) => arena is null ? Tensor.Uninitialized(shape) : PooledTensor(shape, arena);

    private static void Replace(Tensor?[] values, int slot, Tensor value, TensorArena? arena)
    {
        arena?.Drop(values[slot]);
        values[slot] = value;
        arena?.Hold(value);
    }

    // Elementwise ops that run on channels-last values as they are: one image and constant operands (a Clip's bounds, a
    // LeakyRelu's slope), or (binary) images of rank 4 broadcast alike in either layout.
    private static readonly HashSet<string> UnaryOnImages =
        [OpTypes.Relu, OpTypes.Clip, OpTypes.Sigmoid, OpTypes.HardSigmoid, OpTypes.HardSwish, OpTypes.Swish, OpTypes.Tanh, OpTypes.LeakyRelu,
            OpTypes.QuantizeDequantizeLinear];

    private static readonly HashSet<string> BinaryOnImages = [OpTypes.Add, OpTypes.Sub, OpTypes.Mul, OpTypes.Div];

    // Before a step runs: which of its inputs are channels-last decides whether it runs on them as they are (its outputs then
    // channels-last too) or gets them channels-first. True when the step ran here (a channels-last GlobalAveragePool).
    private bool PrepareLayout(Step step, Tensor?[] values, TensorArena? arena, bool[] layout, out bool outputsLast)
    {
        outputsLast = false;
        // How many inputs are channels-last, on every step of a pass: counted without allocating.
        int images = 0;
        foreach (int slot in step.Inputs) if (slot >= 0 && layout[slot]) images++;
        if (images == 0) return false;
        int x = step.Inputs[0];
        bool onlyFirst = images == 1 && x >= 0 && layout[x];
        string op = step.Node.OpType;
        if (step.Outputs.Length == 1 && (UnaryOnImages.Contains(op) && onlyFirst
            || BinaryOnImages.Contains(op) && step.Inputs.Length == 2 && BroadcastsAlike(step, values, arena, layout)))
        {
            outputsLast = true;
            return false;
        }
        if (op == OpTypes.GlobalAveragePool && onlyFirst && values[x] is { DataType: DataType.Float32 } held)
        {
            var shape = FirstShape(held, true);
            var pooled = NewTensor([shape[0], shape[1], 1, 1], arena);
            unsafe
            {
                fixed (float* px = held.Data, py = pooled.Data) ChannelsLastConv.GlobalAveragePool(px, py, shape[0], shape[2] * shape[3], shape[1]);
            }
            values[step.Outputs[0]] = pooled;
            arena?.Hold(pooled);
            StepFinished?.Invoke(step.Node);
            return true;
        }
        foreach (int slot in step.Inputs) ToChannelsFirst(values, slot, arena, layout);
        return false;
    }

    // Whether a binary op's operands broadcast alike channels-last: each a channels-last image, a single value, or a
    // channels-first (N, C, 1, 1) value (a squeeze-and-excitation scale: made channels-last, the same floats as (N, 1, 1, C)).
    private static bool BroadcastsAlike(Step step, Tensor?[] values, TensorArena? arena, bool[] layout)
    {
        if (arena is null) return false;
        foreach (int slot in step.Inputs)
            if (slot < 0 || values[slot] is not { DataType: DataType.Float32 } v
                || !layout[slot] && v.Size != 1 && !(v.Rank == 4 && v.Shape[2] == 1 && v.Shape[3] == 1)) return false;
        foreach (int slot in step.Inputs)
            if (!layout[slot] && values[slot]!.Size != 1) ToChannelsLast(values, slot, arena, layout);
        return true;
    }

    /// <summary>
    /// Runs a chain of a 1×1 or depthwise convolution channels-last: its input (and residual) transposed to that layout if they
    /// are not, its output left in it; or a convolution of few taps from a channels-first input (DirectChannelsLast). False
    /// when the geometry is none of these (the caller then runs it channels-first).
    /// </summary>
    private unsafe bool RunChannelsLast(int convStep, ChainSetup setup, int residualSlot, Tensor?[] values, TensorArena arena, bool[] layout)
    {
        var conv = _fusion!.Plan.Steps[convStep];
        var (g, bias, clamp, output) = (setup.Geometry, setup.Bias, setup.Clamp, setup.Output);
        var kind = KernelFor(g);
        // Where nothing may be kept (ConvWeightPacking.Suspended), the chain runs channels-first.
        if (kind == ConvKind.Other || !ConvWeightPacking.Keeps) return false;
        if (kind == ConvKind.FewTaps) ToChannelsFirst(values, conv.Inputs[0], arena, layout);
        else ToChannelsLast(values, conv.Inputs[0], arena, layout);
        if (residualSlot >= 0) ToChannelsLast(values, residualSlot, arena, layout);
        var path = Cpu.Active;
        var kept = KeptWeight(convStep, setup, path);
        var x = values[conv.Inputs[0]]!;
        var residual = residualSlot >= 0 ? values[residualSlot] : null;
        var y = PooledTensor([g.Batch, g.OutHeight, g.OutWidth, g.OutChannels], arena);
        fixed (float* px = x.Data, pb = bias is null ? null : bias.Data, py = y.Data, pr = residual is null ? null : residual.Data)
        fixed (float* pl = kept.Lanes)
        {
            float* b = bias is null ? null : pb, r = residual is null ? null : pr;
            if (kind == ConvKind.Pointwise) ChannelsLastConv.Pointwise(path, g, px, kept.Pointwise!, b, py, r, clamp);
            else if (kind == ConvKind.Depthwise) DepthwiseChannelsLast.Forward(path, g, px, pl, b, py, r, clamp);
            else DirectChannelsLast.Forward(path, g, px, pl, b, py, r, clamp);
        }
        values[output] = y;
        layout[output] = true;
        Interlocked.Increment(ref _channelsLastRuns);
        return true;
    }
}
