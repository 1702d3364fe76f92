// The inference fast path of Forward and RunOutputs: in evaluation with gradients off (when they release
// intermediate values, GraphModule.Outputs.cs), a Conv whose output runs through any of
// BatchNormalization → Add (a residual of the same shape) → Relu or Clip (constant bounds: MobileNets' ReLU6), each
// read by nothing else, runs as one
// convolution (what ONNX Runtime's ConvBNFusion and Conv+Add+Relu fusion do), on a weight packed once and kept
// while the weight tensor keeps its Version (Tensors/ConvWeightPacking). The batch norm is folded into the
// convolution's weight and bias (Jacob et al. 2018, §3.2, as BatchNormFolding: w' = w·γ/√(var + ε),
// b' = (b − mean)·γ/√(var + ε) + β), computed once and kept while the six tensors it came from are the same
// objects at the same Version; the Add and Relu run as the kernel writes each output (Conv2dKernel.Forward),
// with the bits of the separate ops; a Clip(0, max) is the kernel's Relu and upper clamp (another lower bound, rare, is a
// pass over the output, before the upper one). The chain runs at its last step, when the residual has been computed; its
// earlier steps are skipped, so their tensors are never allocated. A chain whose tensors turn out not to fit at
// run time (not 2-D, another dtype, a broadcast Add) runs its steps one by one. Values read by a chain are released
// after the chain has run. Training, gradients on, and Run (which returns every value) use the plain path.
using Condense.Kernels.Conv;
using Condense.Kernels.Elementwise;
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    // Step indices of one chain (−1: absent) and the slot of the Add's other input.
    private sealed record ConvChain(int Conv, int BatchNorm, int Add, int Residual, int Relu, int Clip)
    {
        public int Last => Math.Max(Math.Max(Conv, BatchNorm), Math.Max(Math.Max(Add, Relu), Clip));
        public IEnumerable<int> Steps => new[] { Conv, BatchNorm, Add, Relu, Clip }.Where(s => s >= 0);
    }

    // The chains of a plan: by the step they run at, the steps they absorb, and the slots to release after each step
    // as the steps actually run (a value read by a chain lives until the chain's last step).
    // ChannelsLast: per step, whether the chain run there runs channels-last (GraphModule.ChannelsLast.cs); null: none does.
    // Blocks: per step, the inverted residual block whose projection chain runs there (GraphModule.InvertedResidual.cs), or null.
    private sealed record Fusion(Plan Plan, ConvChain?[] RunAt, bool[] Absorbed, int[][] Released, bool[]? ChannelsLast, InvertedBlock?[]? Blocks);

    // A batch norm folded into a convolution, and the tensors (and versions) it was computed from: w, b, γ, β, mean, var.
    // The folded weight is not kept: the packed forms ask for it (Conv2dPackedWeights.Source) when they are made.
    private sealed record FoldedConv(Tensor?[] Sources, int[] Versions, Conv2dPackedWeights Packed, Tensor Bias)
    {
        // Whether the sources are these same objects at the same versions: a few comparisons, run on every pass.
        public bool ComputedFrom(Tensor w, Tensor? b, Step bn, Tensor?[] values)
        {
            if (!Same(0, w) || !Same(1, b)) return false;
            for (int i = 1; i < bn.Inputs.Length; i++)
                if (!Same(i + 1, values[bn.Inputs[i]])) return false;
            return true;
        }

        private bool Same(int i, Tensor? t) => ReferenceEquals(Sources[i], t) && (t?.Version ?? 0) == Versions[i];
    }

    private Fusion? _fusion;
    private FoldedConv?[] _foldedConvs = [];

    private Fusion CurrentFusion(Plan plan)
    {
        if (_fusion is { } f && ReferenceEquals(f.Plan, plan)) return f;
        var readers = new int[plan.Names.Length];
        foreach (var step in plan.Steps)
            foreach (int slot in step.Inputs.Where(s => s >= 0)) readers[slot]++;
        foreach (var output in Graph.Outputs)
            if (Array.IndexOf(plan.Names, output.Name) is >= 0 and var slot) readers[slot] += 2; // a graph output is kept
        var consumer = new int[plan.Names.Length];
        Array.Fill(consumer, -1);
        for (int s = 0; s < plan.Steps.Length; s++)
            foreach (int slot in plan.Steps[s].Inputs.Where(i => i >= 0)) consumer[slot] = s;
        var runAt = new ConvChain?[plan.Steps.Length];
        var absorbed = new bool[plan.Steps.Length];
        var claimed = new bool[plan.Steps.Length];
        for (int s = 0; s < plan.Steps.Length; s++)
        {
            if (plan.Steps[s].Node.OpType != OpTypes.Conv || plan.Steps[s].Outputs.Length != 1 || claimed[s]) continue;
            int current = plan.Steps[s].Outputs[0];
            // The single reader of `current`, if it is an op of the given type not yet in a chain.
            int Next(string opType)
            {
                if (readers[current] != 1 || consumer[current] is not (>= 0 and var next) || claimed[next]) return -1;
                var step = plan.Steps[next];
                return step.Node.OpType == opType && step.Outputs.Length == 1 ? next : -1;
            }
            int bn = Next(OpTypes.BatchNormalization);
            if (bn >= 0 && !FoldableBatchNorm(plan, plan.Steps[bn])) bn = -1;
            if (bn >= 0) current = plan.Steps[bn].Outputs[0];
            int add = Next(OpTypes.Add), residual = -1;
            if (add >= 0)
            {
                var inputs = plan.Steps[add].Inputs;
                residual = inputs.Length == 2 && inputs[0] != inputs[1] ? inputs[inputs[0] == current ? 1 : 0] : -1;
                if (residual < 0) add = -1;
                else current = plan.Steps[add].Outputs[0];
            }
            int relu = Next(OpTypes.Relu), clip = relu < 0 ? Next(OpTypes.Clip) : -1;
            if (clip >= 0 && !ConstantBounds(plan, plan.Steps[clip])) clip = -1;
            // A lone Conv is a chain too: it then writes a pooled buffer with its weight packed once (ConvWeightPacking).
            var chain = new ConvChain(s, bn, add, residual, relu, clip);
            foreach (int step in chain.Steps) { claimed[step] = true; absorbed[step] = step != chain.Last; }
            runAt[chain.Last] = chain;
        }
        var runsAt = Enumerable.Range(0, plan.Steps.Length).ToArray();
        foreach (var chain in runAt.OfType<ConvChain>())
            foreach (int step in chain.Steps) runsAt[step] = chain.Last;
        var channelsLast = ChannelsLastChains(plan, runAt);
        var blocks = channelsLast is null ? null : InvertedBlocks(plan, runAt, channelsLast, readers);
        // A block's expansion and depthwise chains run with its projection: what they read lives until then.
        foreach (var block in blocks?.OfType<InvertedBlock>() ?? [])
            foreach (var chain in block.Chains.Where(c => c != block.Project))
            {
                absorbed[chain.Last] = true;
                foreach (int step in chain.Steps) runsAt[step] = block.Project.Last;
            }
        var released = LastReaders(plan.Steps, plan.Names.Length, plan.InitializerCount, plan.Inputs,
            Graph.Outputs.Select(o => Array.IndexOf(plan.Names, o.Name)), runsAt);
        _foldedConvs = new FoldedConv?[plan.Steps.Length];
        return _fusion = new Fusion(plan, runAt, absorbed, released, channelsLast, blocks);
    }

    // A Clip whose bounds, if given as inputs, are initializers (opset 11+), or attributes (opset 6).
    private static bool ConstantBounds(Plan plan, Step clip) => clip.Inputs.Skip(1).All(slot => slot < plan.InitializerCount);

    // An inference batch norm over the channels, its four parameters initializers.
    private static bool FoldableBatchNorm(Plan plan, Step bn) =>
        bn.Node.Int("training_mode", 0) == 0 && bn.Node.Int("spatial", 1) == 1 && bn.Inputs.Length == 5
        && bn.Inputs.Skip(1).All(slot => slot >= 0 && slot < plan.InitializerCount);

    /// <summary>
    /// Runs <paramref name="chain"/> as one convolution; false when its tensors do not fit (the caller then runs the steps).
    /// <paramref name="released"/>: the slots released once the chain has run.
    /// </summary>
    private bool RunChain(Plan plan, ConvChain chain, Tensor?[] values, TensorArena arena, int[] released, bool[]? layout)
    {
        var conv = plan.Steps[chain.Conv];
        int input = conv.Inputs[0];
        if (values[input] is not { Rank: 4, DataType: DataType.Float32 } x) return false;
        if (Prepare(plan, chain, values, FirstShape(x, layout is not null && layout[input]), layout) is not { } setup) return false;
        var (g, residual) = (setup.Geometry, setup.Residual);
        if (layout is not null)
        {
            if (_fusion!.ChannelsLast![chain.Last] && RunChannelsLast(chain.Conv, setup, chain.Residual, values, arena, layout)) return true;
            ToChannelsFirst(values, input, arena, layout);
            ToChannelsFirst(values, chain.Residual, arena, layout);
            (x, residual) = (values[input]!, chain.Residual < 0 ? null : values[chain.Residual]);
        }
        var y = Overwritten(g, x, input, residual, chain.Residual, arena, released) ?? PooledTensor(g.OutputShape, arena);
        // The kernels clamp below at 0 (Relu) or not at all; another lower bound is a pass of its own, before the upper one.
        var (min, max) = (setup.Min, setup.Max);
        bool kernelClamps = min is 0 or float.NegativeInfinity;
        Conv2dKernel.Forward(g, x.Data, setup.Folded is null ? setup.Weight.Data : default, setup.Bias is null ? default : setup.Bias.Data, y.Data,
            residual is null ? default : residual.Data, setup.Relu || min == 0, setup.Packed, kernelClamps ? max : float.PositiveInfinity);
        if (!kernelClamps)
        {
            System.Numerics.Tensors.TensorPrimitives.Max(y.Data, min, y.Data);
            System.Numerics.Tensors.TensorPrimitives.Min(y.Data, max, y.Data);
        }
        values[setup.Output] = y;
        return true;
    }

    // What a chain's kernel needs, for an input of channels-first shape xShape: its geometry, weight (folded with the batch
    // norm), bias, residual (as held), clip bounds and output slot.
    private sealed record ChainSetup(Conv2dGeometry Geometry, Tensor Weight, Tensor? Bias, FoldedConv? Folded, Conv2dPackedWeights? Packed,
        Tensor? Residual, float Min, float Max, bool Relu, int Output)
    {
        /// <summary>The Relu, or the Clip's bounds, as one clamp.</summary>
        public VectorClamp Clamp => new(Relu ? 0f : Min, Relu ? float.PositiveInfinity : Max);
    }

    // Null when the chain's tensors do not fit (not 2-D, another dtype, a broadcast Add): its steps then run one by one.
    private ChainSetup? Prepare(Plan plan, ConvChain chain, Tensor?[] values, int[] xShape, bool[]? layout)
    {
        var conv = plan.Steps[chain.Conv];
        Tensor? Value(int slot) => slot < 0 ? null : values[slot];
        int Input(int i) => i < conv.Inputs.Length ? conv.Inputs[i] : -1;
        var (w, b) = (Value(Input(1)), Value(Input(2)));
        if (w is not { Rank: 4, DataType: DataType.Float32 } || b is not null and not { Rank: 1, DataType: DataType.Float32 }) return null;
        var options = GraphOps.ConvOptions(conv.Node, xShape, w.Shape);
        var g = Conv2dGeometry.Of(xShape, w.Shape, options);
        if (b is not null && b.Size != g.OutChannels) return null;
        var residual = Value(chain.Residual);
        if (residual is not null && (residual.DataType != DataType.Float32 || residual.Rank != 4
            || !FirstShape(residual, layout is not null && layout[chain.Residual]).AsSpan().SequenceEqual(g.OutputShape))) return null;
        // The folded weight exists only packed; where nothing is kept (the load-time dry run), the steps run one by one.
        if (chain.BatchNorm >= 0 && !ConvWeightPacking.Keeps) return null;
        FoldedConv? folded = null;
        if (chain.BatchNorm >= 0 && (folded = FoldBatchNorm(plan, chain, w, b, g.OutChannels, values)) is null) return null;
        var clip = chain.Clip >= 0 ? plan.Steps[chain.Clip] : null;
        Tensor? Bound(int i) => i < clip!.Inputs.Length && clip.Inputs[i] >= 0 ? values[clip.Inputs[i]] : null;
        var bounds = clip is null ? (float.NegativeInfinity, float.PositiveInfinity) : GraphOps.ClipBounds(clip.Node, Bound(1), Bound(2));
        if (bounds is not var (min, max)) return null;
        return new ChainSetup(g, w, folded?.Bias ?? b, folded, folded?.Packed ?? ConvWeightPacking.For(w), residual, min, max, chain.Relu >= 0,
            plan.Steps[chain.Last].Outputs[0]);
    }

    // The residual's (or else the input's) own array as the output, when the kernel allows it (Conv2dKernel.
    // OutputMayOverwriteResidual / OutputMayOverwriteInput: MobileNets' stride-1 depthwise layers), nothing reads the value
    // after the chain, no other value shares its array and it is not the chain's other operand. ONNX Runtime's Conv + Sum
    // fusion writes over the Add's other input likewise: a residual block then keeps two activations live instead of three
    // (resnet-mini's 28×28 stage at batch 256 holds 12.8 MB per activation, three no longer fit this machine's 32 MB L3), and
    // a depthwise layer writes memory the layer before has just written.
    private static Tensor? Overwritten(Conv2dGeometry g, Tensor x, int xSlot, Tensor? residual, int residualSlot, TensorArena arena, int[] released)
    {
        bool Free(Tensor value, int slot, Tensor? other) =>
            !ReferenceEquals(value.Data, other?.Data) && Array.IndexOf(released, slot) >= 0 && arena.SoleHolder(value);
        if (residual is not null && Conv2dKernel.OutputMayOverwriteResidual(g) && Free(residual, residualSlot, x))
            return new Tensor(residual.Data, g.OutputShape);
        return Conv2dKernel.OutputMayOverwriteInput(g) && Free(x, xSlot, residual) ? new Tensor(x.Data, g.OutputShape) : null;
    }

    // The convolution's weight and bias with the batch norm folded in, from the cache while its sources are unchanged.
    // values holds the initializers at their slots (FoldableBatchNorm: the four parameters are initializers).
    private FoldedConv? FoldBatchNorm(Plan plan, ConvChain chain, Tensor w, Tensor? b, int channels, Tensor?[] values)
    {
        var bn = plan.Steps[chain.BatchNorm];
        if (_foldedConvs[chain.Conv] is { } cached && cached.ComputedFrom(w, b, bn, values)) return cached;
        Tensor?[] sources = [w, b, .. bn.Inputs.Skip(1).Select(slot => values[slot])];
        var versions = sources.Select(t => t?.Version ?? 0).ToArray();
        if (sources.Skip(2).Any(t => t is not { Rank: 1, DataType: DataType.Float32 } || t.Size != channels)) return null;
        var (gamma, beta, mean, variance) = (sources[2]!.Data, sources[3]!.Data, sources[4]!.Data, sources[5]!.Data);
        double eps = bn.Node.Float("epsilon", 1e-5f);
        var bias = new float[channels];
        for (int o = 0; o < channels; o++)
            bias[o] = (float)(((b is null ? 0 : b.Data[o]) - mean[o]) * Factor(o) + beta[o]);
        double Factor(int o) => gamma[o] / Math.Sqrt(variance[o] + eps);
        void Weight(Span<float> weight)
        {
            int inner = w.Size / channels;
            for (int o = 0; o < channels; o++)
            {
                double factor = Factor(o);
                for (int i = o * inner; i < (o + 1) * inner; i++) weight[i] = (float)(w.Data[i] * factor);
            }
        }
        var folded = new FoldedConv(sources, versions, new Conv2dPackedWeights(Weight), new Tensor(bias, [channels]));
        _foldedConvs[chain.Conv] = folded;
        return folded;
    }
}
