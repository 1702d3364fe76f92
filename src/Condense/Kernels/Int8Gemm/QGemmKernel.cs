// The contract between the int8 GEMM driver (QGemmDriver.cs) and its per-instruction-set micro-kernels
// (QGemmKernel.{Isa}.cs). Inputs: X packed per call as groups along k, one int32 per group (see
// QGemmDriver.PackX): pairs of uint8 widened to int16 (vpmaddwd kernels) or quads of raw uint8 (vpdpbusd
// kernels); W packed once as PackedInt8Weights panels in the matching layout. A tile's sums are exact int32.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>One register-blocked MR-row × (Panels·16)-column int8 tile kernel.</summary>
internal unsafe interface IQGemmKernel
{
    /// <summary>The instruction set the kernel needs.</summary>
    static abstract KernelPath Path { get; }

    /// <summary>Rows of X per full tile.</summary>
    static abstract int MR { get; }

    /// <summary>16-channel weight panels per tile.</summary>
    static abstract int Panels { get; }

    /// <summary>The layout of the packed X and W the kernel reads.</summary>
    static abstract QGemmLayout Layout { get; }

    /// <summary>
    /// c[i, j] = offset[j] + Σ_p x(p, i) · w(p, j) for i &lt; MR, j &lt; nValid, where x(p, i) is the group (int16
    /// pair or uint8 quad) a[p·MR + i] and w(p, j) the weights of channel j at group p of panel j / 16 (panels are
    /// <paramref name="panelStride"/> bytes apart, starting at <paramref name="b"/>). Panels past nValid are not read.
    /// </summary>
    static abstract void Tile(int kGroups, int* a, sbyte* b, int panelStride, int* offset, int* c, int ldc, int nValid);

    /// <summary>The one-row form of <see cref="Tile"/>: x(p) is a[p].</summary>
    static abstract void Row(int kGroups, int* a, sbyte* b, int panelStride, int* offset, int* c, int nValid);
}

/// <summary>How a micro-kernel wants X and W packed (one int32 of X per group of k).</summary>
internal enum QGemmLayout
{
    /// <summary>X as int16 pairs, W as int8 pairs (PackedInt8Weights.Data).</summary>
    Pairs,

    /// <summary>X as int16 pairs, W as int8 pairs widened to int16 (PackedInt8Weights.Wide).</summary>
    WidePairs,

    /// <summary>X as uint8 quads, W as int8 quads (PackedInt8Weights.Quads).</summary>
    Quads,
}
