// The contract between the direct int8 convolution (QConv2dDirect.cs) and its per-instruction-set tiles
// (QConvKernel.{Isa}.cs): rows output channels × NR output positions of int32 sums over int16 tap pairs of the padded
// planar image, each pair one vpmaddwd against a broadcast weight pair. The quad tiles (QConvKernel.Quads.cs) and the
// emitted channels-last ones (QConvKernel.JitZmm.cs) read other layouts under their own drivers.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Conv;

/// <summary>A rows × NR int32 tile over int16 tap pairs of the padded planar image.</summary>
internal unsafe interface IQConvKernel
{
    /// <summary>The instruction set the kernel needs.</summary>
    static abstract KernelPath Path { get; }

    /// <summary>Most channel rows per tile.</summary>
    static abstract int MaxRows { get; }

    /// <summary>Output positions per tile.</summary>
    static abstract int NR { get; }

    /// <summary>
    /// c[i·ldc + j] = bias[i] + Σ_p Σ_{s=0,1} x[offsets[2p + s] + j]·w_s, j &lt; NR, where w[p·rows + i] packs the weight
    /// pair of row i (tap 2p in the low 16 bits, tap 2p + 1 in the high); pairs ≥ 1.
    /// </summary>
    static abstract void Run(int rows, int pairs, int* w, short* x, int* offsets, int* bias, int* c, int ldc);
}
