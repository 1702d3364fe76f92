// Whether this model's small channels-last layers keep to one thread or split between the threads (Kernels/Platform/
// SmallLayers.cs) is measured on its first calls, per batch size (AlternatingTrial): the answer differs between machines
// and gives the same bits either way. Calls that share their images between the threads (IntegerConvModel.Shares.cs)
// run each share on one thread and take no part.
using System.Collections.Concurrent;
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    private readonly ConcurrentDictionary<int, AlternatingTrial> _splitTrials = new();

    /// <summary>Small layers: null (the default) measures both ways on the first calls; true splits them, false keeps them on one thread.</summary>
    internal bool? SplitSmallLayers { get; set; }

    /// <summary>What the measurement chose for batches of <paramref name="batch"/> (null while it runs or before it starts).</summary>
    internal bool? SplitChosen(int batch) => _splitTrials.TryGetValue(batch, out var trial) ? trial.Choice : null;

    private Tensor RunSplitOrNot(Tensor input)
    {
        if (SplitSmallLayers is bool forced) return RunSplittingSmallLayers(input, forced);
        var trial = _splitTrials.GetOrAdd(input is { Rank: >= 1 } ? input.Shape[0] : 0, _ => new AlternatingTrial());
        return trial.Run(split => RunSplittingSmallLayers(input, split));
    }

    private Tensor RunSplittingSmallLayers(Tensor input, bool split)
    {
        bool saved = SmallLayers.SplitOnThisThread;
        SmallLayers.SplitOnThisThread = split;
        try { return Run(input, null); }
        finally { SmallLayers.SplitOnThisThread = saved; }
    }
}
