// The image copy that the direct convolutions (Conv2dDirect, QConv2dDirect) read: zero-padded, then split by
// stride phase, so that every kernel tap of every output position is a contiguous run of one plane.
namespace Condense.Kernels.Conv;

/// <summary>
/// Geometry of the padded, phase-split copy of one image: for each of <see cref="Planes"/> = C·sH·sW
/// (channel, row phase, column phase), a plane of <see cref="Hq"/> × <see cref="Wq"/> values; output
/// position q = oy·Wq + ox reads tap (c, kh, kw) at <c>q + TapOffset(c, kh, kw)</c>.
/// </summary>
internal readonly struct PhaseSplitImage
{
    /// <summary>The layout for <paramref name="channels"/> input channels of <paramref name="g"/> (C/g for a group).</summary>
    public PhaseSplitImage(Conv2dGeometry g, int channels)
    {
        var o = g.Options;
        (StrideH, StrideW, DilationH, DilationW) = (o.StrideH, o.StrideW, o.DilationH, o.DilationW);
        Hq = (g.Height + o.PadTop + o.PadBottom + StrideH - 1) / StrideH;
        Wq = (g.Width + o.PadLeft + o.PadRight + StrideW - 1) / StrideW;
        Planes = channels * StrideH * StrideW;
        Positions = g.OutHeight * Wq;
    }

    public int StrideH { get; }
    public int StrideW { get; }
    private int DilationH { get; }
    private int DilationW { get; }
    public int Hq { get; }
    public int Wq { get; }
    public int Planes { get; }

    /// <summary>Padded output positions OH · Wq (the last Wq − OW of each row are computed and dropped).</summary>
    public int Positions { get; }

    /// <summary><see cref="Positions"/> rounded up to whole tiles of <paramref name="nr"/> positions.</summary>
    public int PaddedPositions(int nr) => (Positions + nr - 1) / nr * nr;

    /// <summary>
    /// Values to allocate: tiles of <paramref name="nr"/> positions read past the last plane by less than nr + Wq
    /// (position q &lt; Positions rounded up to nr, plus the largest offset, ends before Planes·Hq·Wq + nr + Wq;
    /// the row and column shifts stay inside a plane).
    /// </summary>
    public long Length(int nr) => (long)Planes * Hq * Wq + nr + Wq;

    /// <summary>Where tap (c, kh, kw) of padded output position 0 lies.</summary>
    public int TapOffset(int c, int kh, int kw)
    {
        int dh = kh * DilationH, dw = kw * DilationW;
        int plane = (c * StrideH + dh % StrideH) * StrideW + dw % StrideW;
        return plane * Hq * Wq + dh / StrideH * Wq + dw / StrideW;
    }
}
