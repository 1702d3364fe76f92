// A batch of images split between the threads, each running the whole network on its share, where the layers would
// otherwise each be split between the threads: one parallel call per pass instead of one per step (MobileNetV2 has about
// sixty), and a share's activations stay in its own core's caches from layer to layer. The integer sums are exact and
// every float step works image by image, so a share gives each image the bits the whole batch gives it (tested).
using Condense.Kernels.Platform;
using Condense.Tensors;

namespace Condense.Inference;

public sealed partial class IntegerConvModel
{
    /// <summary>The fewest images a thread's share holds: below it the layers are split between the threads instead.</summary>
    private const int ShareMinImages = 2;

    /// <summary>Whether a batch may run as per-thread shares of images (on by default; tests compare with the layer split).</summary>
    internal bool ImageSharesEnabled { get; set; } = true;

    private int ImageShares(int images) =>
        ImageSharesEnabled && StepTimer is null ? Math.Min(Cpu.Threads, images / ShareMinImages) : 1;

    /// <summary>How many shares the last Forward ran (1: the layers were split instead).</summary>
    internal int LastPassShares { get; private set; } = 1;

    private Tensor RunShares(Tensor input, int parts)
    {
        var outputs = new Tensor[parts];
        WorkerPool.Run(new SharesJob(this, input, outputs, parts), parts);
        LastPassShares = parts;
        int n = input.Shape[0], inner = outputs[0].Size / outputs[0].Shape[0];
        var output = new Tensor(new float[(long)n * inner], [n, .. outputs[0].Shape[1..]]);
        for (int p = 0, row = 0; p < parts; row += outputs[p].Shape[0], p++) outputs[p].Data.CopyTo(output.Data.AsSpan(row * inner));
        return output;
    }

    // The caller's kernel path and int8 dot product (a test may force them on its thread) hold on every share.
    private sealed class SharesJob(IntegerConvModel model, Tensor input, Tensor[] outputs, int parts) : IParallelJob
    {
        private readonly KernelPath _path = Cpu.Active;
        private readonly Int8Dot _dot = Cpu.ActiveInt8Dot;

        public void Execute(int part)
        {
            using var held = Cpu.Hold(_path, _dot);
            int n = input.Shape[0], sample = input.Size / n;
            int first = (int)((long)n * part / parts), count = (int)((long)n * (part + 1) / parts) - first;
            var share = new Tensor(input.Data.AsSpan(first * sample, count * sample).ToArray(), [count, .. input.Shape[1..]]);
            outputs[part] = model.Run(share, null);
        }
    }
}
