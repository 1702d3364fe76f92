// Inverted residual blocks in channels-last inference: a 1×1 expansion chain (or none, or a stem of few taps reading the
// channels-first input) whose output only a depthwise chain reads, whose output only a 1×1 projection chain reads
// (MobileNetV2, and the blocks of MnasNet, EfficientNet without squeeze-excite), run as one banded pass
// (Kernels/Conv/InvertedResidualBlock) at the projection's step, so the expanded activations stay in the cache. The block
// gives the bits of its chains run one after the other channels-last; where its shapes do not fit (a strided 1×1, a kernel
// taller than the block takes) or the graph runs channels-first, the chains run in turn.
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    // The chains of a block, by the steps they run at; a block without an expansion (MobileNetV2's first) has two.
    private sealed record InvertedBlock(ConvChain? Expand, ConvChain Depthwise, ConvChain Project)
    {
        /// <summary>The chains in the order they run, made once (the block is looked at on every pass).</summary>
        public ConvChain[] Chains { get; } = Expand is null ? [Depthwise, Project] : [Expand, Depthwise, Project];
    }

    /// <summary>Whether inverted residual blocks run as one pass (tests compare with their chains run in turn).</summary>
    internal bool InvertedBlockInference { get; set; } = true;

    /// <summary>Inverted residual blocks run as one pass so far (tests check that a graph took the path).</summary>
    internal int InvertedBlockRuns => _invertedBlockRuns;

    private int _invertedBlockRuns;

    // Per step: the block whose projection chain runs there; null when the graph has none. readers: how many steps read each slot.
    private InvertedBlock?[]? InvertedBlocks(Plan plan, ConvChain?[] runAt, bool[] channelsLast, int[] readers)
    {
        var producer = runAt.OfType<ConvChain>().ToDictionary(chain => plan.Steps[chain.Last].Outputs[0]);
        // The chain that alone reads-and-produces the input of `chain`'s convolution, if it is of the given kind, channels-last and
        // without a residual.
        ConvChain? Feeding(ConvChain chain, ConvKind kind) =>
            producer.TryGetValue(plan.Steps[chain.Conv].Inputs[0], out var before) && readers[plan.Steps[before.Last].Outputs[0]] == 1
            && channelsLast[before.Last] && before.Residual < 0 && KindOf(plan, before) == kind ? before : null;
        var blocks = new InvertedBlock?[plan.Steps.Length];
        // A chain belongs to one block at most: in MobileNetV1's depthwise → 1×1 → depthwise → 1×1 … each 1×1 ends one block and
        // would expand the next; it stays the first's projection, and the next block has no expansion (chains in step order).
        var used = new bool[plan.Steps.Length];
        bool any = false;
        foreach (var project in runAt.OfType<ConvChain>())
        {
            if (used[project.Last] || !channelsLast[project.Last] || KindOf(plan, project) != ConvKind.Pointwise) continue;
            if (Feeding(project, ConvKind.Depthwise) is not { } depthwise || used[depthwise.Last]) continue;
            var expand = Feeding(depthwise, ConvKind.Pointwise) ?? Feeding(depthwise, ConvKind.FewTaps);
            if (expand is not null && used[expand.Last]) expand = null;
            var block = new InvertedBlock(expand, depthwise, project);
            foreach (var chain in block.Chains) used[chain.Last] = true;
            blocks[project.Last] = block;
            any = true;
        }
        return any ? blocks : null;
    }

    // The block as one pass where it can; else its three chains (each as one convolution, or its steps) in turn.
    private void RunBlockOrChains(Plan plan, InvertedBlock block, Tensor?[] values, OpContext context, TensorArena arena, int[] released, bool[]? layout)
    {
        if (layout is not null && InvertedBlockInference && RunBlock(plan, block, values, arena, layout))
        {
            arena.Hold(values[plan.Steps[block.Project.Last].Outputs[0]]);
            StepFinished?.Invoke(plan.Steps[block.Project.Last].Node);
            return;
        }
        // What is released after the block may still be read by its later chains (the projection's residual is often the
        // depthwise layer's input): only the projection may write over such a value.
        foreach (var chain in block.Chains) RunChainOrSteps(plan, chain, values, context, arena, chain == block.Project ? released : [], layout);
    }

    private unsafe bool RunBlock(Plan plan, InvertedBlock block, Tensor?[] values, TensorArena arena, bool[] layout)
    {
        var (e, d, p) = (block.Expand, block.Depthwise, block.Project);
        int input = plan.Steps[block.Chains[0].Conv].Inputs[0];
        if (values[input] is not { Rank: 4, DataType: DataType.Float32 } x || !ConvWeightPacking.Keeps) return false;
        var inputShape = FirstShape(x, layout[input]);
        ChainSetup? se = null;
        if (e is not null && (se = Prepare(plan, e, values, inputShape, layout)) is null) return false;
        if (Prepare(plan, d, values, se?.Geometry.OutputShape ?? inputShape, layout) is not { } sd
            || Prepare(plan, p, values, sd.Geometry.OutputShape, layout) is not { } sp) return false;
        var (gd, gp) = (sd.Geometry, sp.Geometry);
        static bool PointwiseStrideOne(Conv2dGeometry g) => KernelFor(g) == ConvKind.Pointwise && g.Options.StrideH == 1 && g.Options.StrideW == 1;
        // The expansion: a 1×1 product over channels-last pixels, or a stem of few taps reading the channels-first image.
        bool stem = se is not null && KernelFor(se.Geometry) == ConvKind.FewTaps;
        if (se is not null && !stem && !PointwiseStrideOne(se.Geometry) || !PointwiseStrideOne(gp)
            || KernelFor(gd) != ConvKind.Depthwise || gd.KernelH > InvertedResidualBlock.MaxKernelRows) return false;
        if (stem) ToChannelsFirst(values, input, arena, layout);
        else ToChannelsLast(values, input, arena, layout);
        if (p.Residual >= 0) ToChannelsLast(values, p.Residual, arena, layout);
        x = values[input]!;
        var residual = p.Residual >= 0 ? values[p.Residual] : null;
        var path = Cpu.Active;
        var (kd, kp) = (KeptWeight(d.Conv, sd, path), KeptWeight(p.Conv, sp, path));
        var ke = se is null ? null : KeptWeight(e!.Conv, se, path);
        var y = PooledTensor([gp.Batch, gp.OutHeight, gp.OutWidth, gp.OutChannels], arena);
        fixed (float* px = x.Data, py = y.Data, pr = residual?.Data, be = se?.Bias?.Data, bd = sd.Bias?.Data, bp = sp.Bias?.Data)
        {
            InvertedResidualBlock.Layer? expand = se is null ? null : new(se.Geometry, ke!.Pointwise, ke.Lanes, be, se.Clamp);
            InvertedResidualBlock.Forward(path, expand, new(gd, null, kd.Lanes, bd, sd.Clamp), new(gp, kp.Pointwise, null, bp, sp.Clamp), px, pr, py);
        }
        values[sp.Output] = y;
        layout[sp.Output] = true;
        Interlocked.Add(ref _channelsLastRuns, block.Chains.Length);
        Interlocked.Increment(ref _invertedBlockRuns);
        return true;
    }
}
