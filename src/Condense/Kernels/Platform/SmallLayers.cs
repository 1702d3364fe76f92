// Whether the small int8 channels-last layers keep to the calling thread. A layer that reads rows both cores wrote and
// leaves its rows in both cores' caches moves them between the cores: on one 2-core machine (AMD Zen 5 with AVX-VNNI)
// keeping MobileNetV2's small layers on one thread made the model 1.1× faster, on another (Zen 4, AVX-512 VNNI only) 1.1×
// slower. So the rules that keep them (QDepthwiseConv2d.ChannelsLastParallelFlops, QConv2dNhwc.ParallelFlopsPerByte) hold
// unless the calling thread says otherwise here, and the integer engine measures both ways on its first calls
// (Inference/IntegerConvModel.SplitTrial.cs). Either way gives the same bits: a split divides the outputs, not the sums.
namespace Condense.Kernels.Platform;

/// <summary>The calling thread's choice between keeping small int8 layers on one thread and splitting them.</summary>
internal static class SmallLayers
{
    [ThreadStatic] private static bool t_split;

    /// <summary>True: on calls from this thread, small layers split between the threads like any other; false (the default): the rules keep them.</summary>
    public static bool SplitOnThisThread { get => t_split; set => t_split = value; }
}
