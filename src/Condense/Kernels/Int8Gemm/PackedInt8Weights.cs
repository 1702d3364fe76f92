// An int8 Linear weight W (n × k, layout [out, in], per-channel symmetric: zero point 0) packed once for
// QGemm, plus its row sums Σ_k W[o, k], which the zero-point correction needs on every call.
// Layout: panels of 16 output channels; inside a panel, for each pair of inputs (k, k+1), 32 bytes
// [ch0 k, ch0 k+1, ch1 k, ch1 k+1, …, ch15 k+1]. Sign-extended to int16 this is exactly what
// vpmaddwd wants: lane o gets W[o,k]·x[k] + W[o,k+1]·x[k+1]. Missing channels and an odd last k are zeros.
// The vpdpbusd kernels read a quad layout (built on first use, or at once where it is the default): for each
// 4 inputs (k..k+3), 64 bytes [ch0 k..k+3, ch1 k..k+3, …, ch15 k+3], so that lane o of a ymm pair gets
// Σ_{b<4} W[o,k+b]·x[k+b]. The AVX-512 pair kernel reads the pair layout widened to int16 (Wide). Packing also records
// whether vpmaddubsw, which sums the pairs (k, k+1), k even, of a quad in saturating int16, is exact on this weight.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

/// <summary>An int8 weight matrix [out, in] in the panel layout of <see cref="QGemm"/>, with its row sums.</summary>
public sealed unsafe class PackedInt8Weights
{
    /// <summary>Output channels per panel (one zmm of int32 sums, two ymm).</summary>
    internal const int PanelWidth = 16;

    /// <summary>
    /// Largest supported <c>k</c>: a pair of products is at most 2·255·128 and vpmaddwd sums k/2 pairs in int32,
    /// so Σ x·W (with raw uint8 x, before the zero-point correction) stays below 2^31 for k ≤ 65 792.
    /// </summary>
    public const int MaxInFeatures = 65_536;

    private readonly sbyte[] _data;
    private readonly int _offset;
    private readonly int[] _rowSums;
    private AlignedCopy<short>? _wide;
    private AlignedCopy<sbyte>? _quads;

    /// <summary>Packs <paramref name="weight"/> (outFeatures × inFeatures, row-major int8).</summary>
    public PackedInt8Weights(ReadOnlySpan<sbyte> weight, int outFeatures, int inFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(inFeatures, MaxInFeatures);
        if (weight.Length != (long)outFeatures * inFeatures)
            throw new ArgumentException(
                $"weight holds {weight.Length} values, a {outFeatures}×{inFeatures} matrix needs {(long)outFeatures * inFeatures}", nameof(weight));
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        KPairs = (inFeatures + 1) / 2;
        KQuads = (inFeatures + 3) / 4;
        Panels = (outFeatures + PanelWidth - 1) / PanelWidth;
        PanelStride = KPairs * 2 * PanelWidth;
        // 64 spare bytes let the start move up to the next cache line; pinned so the kernels may keep pointers.
        _data = GC.AllocateArray<sbyte>(Panels * PanelStride + 64, pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        _offset = (int)(((start + 63) & ~(nint)63) - start);
        _rowSums = new int[outFeatures];
        var packed = _data.AsSpan(_offset);
        bool pairsFit = true;
        for (int o = 0; o < outFeatures; o++)
        {
            var row = weight.Slice(o * inFeatures, inFeatures);
            int panel = o / PanelWidth, lane = o % PanelWidth, sum = 0;
            for (int p = 0; p < inFeatures; p++)
            {
                packed[panel * PanelStride + p / 2 * 2 * PanelWidth + lane * 2 + (p & 1)] = row[p];
                sum += row[p];
                // The pairs vpmaddubsw forms in a quad: (k, k+1), k even, the zero padding past an odd k included.
                if ((p & 1) == 0) pairsFit &= MaddubsDot4.PairIsExact(row[p], p + 1 < inFeatures ? row[p + 1] : (sbyte)0);
            }
            _rowSums[o] = sum;
        }
        PairSumsFitInt16 = pairsFit;
        // The layout the default kernel reads is built now, so that a model's first forward does not pay for it.
        if (Cpu.Supports(Int8Dot.Quads) || Cpu.Supports(Int8Dot.JitZmmQuads) || (pairsFit && Cpu.BestInt8Dot == Int8Dot.MaddubsQuads)) _ = Quads;
        else if (Cpu.Supports(KernelPath.Avx512)) _ = Wide;
    }

    /// <summary>n: rows of W, columns of the output.</summary>
    public int OutFeatures { get; }

    /// <summary>k: columns of W, the length of each input row.</summary>
    public int InFeatures { get; }

    /// <summary>Σ_k W[o, k] for each output channel o.</summary>
    public ReadOnlySpan<int> RowSums => _rowSums;

    /// <summary>
    /// True when every pair W[o, k], W[o, k+1] with k even (W[o, k+1] = 0 past the row) passes <see cref="MaddubsDot4.PairIsExact"/>:
    /// the vpmaddubsw quads (<see cref="Int8Dot.MaddubsQuads"/>) then give the exact sums. Set at pack time.
    /// </summary>
    internal bool PairSumsFitInt16 { get; }

    /// <summary>⌈k / 2⌉: input pairs per panel.</summary>
    internal int KPairs { get; }

    /// <summary>⌈k / 4⌉: input quads per quad panel.</summary>
    internal int KQuads { get; }

    /// <summary>Bytes per quad panel.</summary>
    internal int QuadPanelStride => KQuads * 4 * PanelWidth;

    /// <summary>⌈n / 16⌉.</summary>
    internal int Panels { get; }

    /// <summary>Bytes per panel.</summary>
    internal int PanelStride { get; }

    /// <summary>A layout of this weight another kernel derived and keeps (QConv2dDirect's tap pairs); set by that kernel.</summary>
    internal object? DerivedLayout { get; set; }

    /// <summary>W[o, k] read back from the panels.</summary>
    internal sbyte At(int o, int k) => _data[_offset + o / PanelWidth * PanelStride + k / 2 * 2 * PanelWidth + o % PanelWidth * 2 + (k & 1)];

    /// <summary>The first panel, 64-byte aligned; valid while this object is alive (the array is pinned).</summary>
    internal sbyte* Data => (sbyte*)Unsafe.AsPointer(ref _data[_offset]);

    /// <summary>
    /// The panels widened to int16, same layout (2·PanelStride bytes per panel), 64-byte aligned, built on first use; valid
    /// while this object is alive. The AVX-512 pair kernel reads them: sign-extending in the kernel took a vpmovsxbw per
    /// panel and pair on port 5, which the kernel's vpaddd also need (vpmaddwd has port 0 alone).
    /// </summary>
    internal short* Wide => LazyInitializer.EnsureInitialized(ref _wide, () => new AlignedCopy<short>(Panels * PanelStride, wide =>
    {
        var source = _data.AsSpan(_offset, Panels * PanelStride);
        for (int i = 0; i < source.Length; i++) wide[i] = source[i];
    })).Start;

    /// <summary>The quad panels (QuadPanelStride bytes each), 64-byte aligned, built on first use; valid while this object is alive.</summary>
    internal sbyte* Quads => LazyInitializer.EnsureInitialized(ref _quads, () => new AlignedCopy<sbyte>(Panels * QuadPanelStride, quads =>
    {
        for (int o = 0; o < OutFeatures; o++)
            for (int k = 0; k < InFeatures; k++)
                quads[o / PanelWidth * QuadPanelStride + k / 4 * 4 * PanelWidth + o % PanelWidth * 4 + k % 4] = At(o, k);
    })).Start;

    /// <summary>A derived layout of the weights in a pinned array, starting on a cache line; zeros where not filled.</summary>
    private sealed class AlignedCopy<T> where T : unmanaged
    {
        private readonly T[] _array;
        private readonly int _offset;

        public AlignedCopy(int length, SpanAction fill)
        {
            _array = GC.AllocateArray<T>(length + 64 / sizeof(T), pinned: true);
            nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
            _offset = (int)((((start + 63) & ~(nint)63) - start) / sizeof(T));
            fill(_array.AsSpan(_offset, length));
        }

        public delegate void SpanAction(Span<T> span);

        public T* Start => (T*)Unsafe.AsPointer(ref _array[_offset]);
    }
}
