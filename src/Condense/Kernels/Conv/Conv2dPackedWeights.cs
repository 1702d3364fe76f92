// A convolution weight packed once for the forward kernels and kept across inference passes, as ONNX Runtime's
// prepacking does. Packing re-reads and re-writes every weight: per call it was a single-threaded pass ahead of the
// parallel tiles, 0.6 of 1.7 ms on a 512-channel 3×3 layer at 7×7 (ResNet-18's deepest, 9 MiB of weights). The
// packed layout depends on the tile kernel the geometry picks (panel rows), so an entry is kept per kernel and
// replaced when another is needed. A Winograd convolution (Conv2dWinograd.cs) keeps its transformed weight
// U = G g Gᵀ beside it, one per tile size (a layer may take F(2×2) at one batch size and F(4×4) at another: ResNet-18's
// 7×7 layers at batch 1 and 8), keyed the same way by the GEMM panel's rows. The caller owns
// invalidation: a new object when the weight's values change (Tensors/ConvWeightPacking keys it on the weight
// tensor's Version). A weight that exists only to be packed — a batch norm folded into its convolution — need not be
// kept at all: with a Source, the kernels are called with no weight and ask the source for it when a form is missing
// (ResNet-18 kept 47 MB of folded weights beside the packed forms made from them).
namespace Condense.Kernels.Conv;

/// <summary>The packed form of one convolution weight, reused by <see cref="Conv2dKernel.Forward(Conv2dGeometry, ReadOnlySpan{float},
/// ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, ReadOnlySpan{float}, bool, Conv2dPackedWeights?, float)"/>.</summary>
public sealed class Conv2dPackedWeights
{
    private sealed record Entry(Type Kernel, int PanelRows, int Groups, int OutChannels, int ColumnRows, float[] Data);

    private sealed record WinogradEntry(int TileOutput, int PanelRows, int OutChannels, int InChannels, float[] Data);

    // Replaced whole, so concurrent passes see either the old entry or the new one, never a half-written one.
    private volatile Entry? _entry;
    private volatile WinogradEntry? _winogradF2, _winogradF4;

    // The source's weight is written here and packed at once: one buffer per thread, the size of the largest weight,
    // rather than a garbage array per packed form (ResNet-18: 47 MB of them at the first pass of a new batch size).
    [ThreadStatic] private static float[]? t_sourced;

    /// <summary>Makes a packed form that computes its weight when asked, rather than from a weight passed with each call.</summary>
    /// <param name="source">Writes the weight (M, C/g, kH, kW), tight row-major, into the span; called when a form is first needed.</param>
    public Conv2dPackedWeights(Action<Span<float>>? source = null) => Source = source;

    /// <summary>Where the weight comes from when the kernels are called without one; null when every call passes it.</summary>
    public Action<Span<float>>? Source { get; }

    /// <summary>The source's weight of <paramref name="length"/> floats, in a buffer valid until this thread's next call.</summary>
    internal float[] SourcedWeight(int length)
    {
        var buffer = t_sourced is { } b && b.Length >= length ? b : t_sourced = GC.AllocateUninitializedArray<float>(length);
        (Source ?? throw new InvalidOperationException("a convolution was called without a weight and its packed form has no source"))
            (buffer.AsSpan(0, length));
        return buffer;
    }

    /// <summary>Floats kept (for memory reports).</summary>
    public long Floats => (_entry?.Data.Length ?? 0) + (_winogradF2?.Data.Length ?? 0) + (_winogradF4?.Data.Length ?? 0);

    /// <summary>The packed array for this layout, or null when it has not been packed yet (or was packed for another).</summary>
    internal float[]? Find(Type kernel, int panelRows, Conv2dGeometry g) =>
        _entry is { } e && e.Kernel == kernel && e.PanelRows == panelRows && e.Groups == g.Groups && e.OutChannels == g.OutChannels
            && e.ColumnRows == g.ColumnRows ? e.Data : null;

    /// <summary>Keeps <paramref name="data"/> as the packed array for this layout.</summary>
    internal void Keep(Type kernel, int panelRows, Conv2dGeometry g, float[] data) =>
        _entry = new Entry(kernel, panelRows, g.Groups, g.OutChannels, g.ColumnRows, data);

    /// <summary>The Winograd weight of F(m×m, 3×3) (m = <paramref name="tileOutput"/>) in panels of <paramref name="panelRows"/>, or null.</summary>
    internal float[]? FindWinograd(int tileOutput, int panelRows, Conv2dGeometry g) =>
        (tileOutput == 4 ? _winogradF4 : _winogradF2) is { } e && e.TileOutput == tileOutput && e.PanelRows == panelRows
            && e.OutChannels == g.OutChannels && e.InChannels == g.InChannels ? e.Data : null;

    /// <summary>Keeps <paramref name="data"/> as the Winograd weight for this layout.</summary>
    internal void KeepWinograd(int tileOutput, int panelRows, Conv2dGeometry g, float[] data)
    {
        var entry = new WinogradEntry(tileOutput, panelRows, g.OutChannels, g.InChannels, data);
        if (tileOutput == 4) _winogradF4 = entry;
        else _winogradF2 = entry;
    }
}
