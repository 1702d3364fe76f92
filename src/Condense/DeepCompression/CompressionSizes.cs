// Storage of the shared tensors at each stage of Deep Compression (Han et al. 2016, Table 1 and the
// per-layer Tables 4–7): dense fp32; pruned (fp32 values + relative index gaps); pruned + quantized
// (b-bit cluster indices + gaps + the fp32 codebook); and + Huffman (both streams Huffman-coded, plus
// the code-length tables a decoder needs). Sizes are computed from the actual streams, not estimated.
namespace Condense.DeepCompression;

/// <summary>The storage of one shared tensor at each stage, in bits per stream.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="Parameters">Weights in the tensor.</param>
/// <param name="NonZeros">Kept (non-pruned) weights.</param>
/// <param name="Bits">Bits per cluster index.</param>
/// <param name="GapBits">Bits per gap code (0 for a tensor with no pruned weight: it is stored densely, without an index).</param>
/// <param name="GapCodes">Gap codes, fillers included.</param>
/// <param name="IndexBits">The b-bit cluster indices: NonZeros·Bits.</param>
/// <param name="HuffmanIndexBits">The cluster indices, Huffman-coded.</param>
/// <param name="GapStreamBits">The gap codes: GapCodes·GapBits.</param>
/// <param name="HuffmanGapBits">The gap codes, Huffman-coded.</param>
/// <param name="CodebookBits">The fp32 codebook: 32 per centroid.</param>
/// <param name="HuffmanTableBits">The code lengths of both Huffman codes, 8 bits per symbol of each used alphabet.</param>
public sealed record TensorCompressionSizes(string Name, int Parameters, int NonZeros, int Bits, int GapBits, long GapCodes,
    long IndexBits, long HuffmanIndexBits, long GapStreamBits, long HuffmanGapBits, long CodebookBits, long HuffmanTableBits)
{
    /// <summary>Dense fp32: 4 bytes per weight.</summary>
    public long DenseBytes => 4L * Parameters;

    /// <summary>Pruned: fp32 values of the kept weights plus the gap codes.</summary>
    public long PrunedBytes => ToBytes(32L * NonZeros + GapStreamBits);

    /// <summary>Pruned and quantized: b-bit indices, gap codes and the codebook.</summary>
    public long QuantizedBytes => ToBytes(IndexBits + GapStreamBits + CodebookBits);

    /// <summary>Pruned, quantized and Huffman-coded: both coded streams, the codebook and the code-length tables.</summary>
    public long HuffmanBytes => ToBytes(HuffmanIndexBits + HuffmanGapBits + CodebookBits + HuffmanTableBits);

    internal static long ToBytes(long bits) => (bits + 7) / 8;
}

/// <summary>Storage sizes and compression ratios of a weight-shared model, stage by stage (Deep Compression's columns).</summary>
/// <remarks>Only the shared tensors are counted; biases and other parameters are outside the report.</remarks>
public sealed record CompressionSizes(IReadOnlyList<TensorCompressionSizes> Tensors)
{
    /// <summary>Total dense fp32 bytes.</summary>
    public long DenseBytes => Tensors.Sum(t => t.DenseBytes);
    /// <summary>Total pruned bytes.</summary>
    public long PrunedBytes => Tensors.Sum(t => t.PrunedBytes);
    /// <summary>Total pruned + quantized bytes.</summary>
    public long QuantizedBytes => Tensors.Sum(t => t.QuantizedBytes);
    /// <summary>Total pruned + quantized + Huffman bytes.</summary>
    public long HuffmanBytes => Tensors.Sum(t => t.HuffmanBytes);
    /// <summary>Dense over pruned size.</summary>
    public double PrunedRatio => Ratio(PrunedBytes);
    /// <summary>Dense over pruned + quantized size.</summary>
    public double QuantizedRatio => Ratio(QuantizedBytes);
    /// <summary>Dense over pruned + quantized + Huffman size.</summary>
    public double HuffmanRatio => Ratio(HuffmanBytes);

    private double Ratio(long bytes) => bytes == 0 ? 0 : (double)DenseBytes / bytes;

    /// <summary>
    /// Measures every tensor of <paramref name="result"/>; gaps take <paramref name="convGapBits"/> bits for Conv weights
    /// and <paramref name="fcGapBits"/> for Gemm/MatMul weights (the paper's 8 and 5).
    /// </summary>
    public static CompressionSizes Measure(WeightSharingResult result, int fcGapBits = SparseIndex.FcGapBits, int convGapBits = SparseIndex.ConvGapBits) =>
        new(result.Entries
            .Select(e => Measure(e.Target.Name, e.Shared, e.Target.Node.OpType == Condense.Graph.OpTypes.Conv ? convGapBits : fcGapBits))
            .ToList());

    /// <summary>Measures one shared tensor with <paramref name="gapBits"/> bits per gap code.</summary>
    public static TensorCompressionSizes Measure(string name, SharedWeights shared, int gapBits)
    {
        SparseIndex.MaxGap(gapBits); // validates
        var indices = Array.ConvertAll(shared.Indices, i => (int)i);
        int alphabet = 1 << shared.Bits;
        long indexBits = (long)indices.Length * shared.Bits;
        var (huffmanIndexBits, indexTable) = HuffmanBits(indices, alphabet);
        long gapCodes = 0, gapStreamBits = 0, huffmanGapBits = 0, gapTable = 0;
        bool sparse = shared.NonZeros < shared.Size;
        if (sparse)
        {
            var codes = SparseIndex.Encode(shared.KeptPositions(), gapBits);
            gapCodes = codes.Length;
            gapStreamBits = gapCodes * gapBits;
            (huffmanGapBits, gapTable) = HuffmanBits(codes, 1 << gapBits);
        }
        return new TensorCompressionSizes(name, shared.Size, shared.NonZeros, shared.Bits, sparse ? gapBits : 0, gapCodes,
            indexBits, huffmanIndexBits, gapStreamBits, huffmanGapBits, 32L * shared.Centroids.Length, indexTable + gapTable);
    }

    // The Huffman-coded size of a stream, and of its code-length table (8 bits per alphabet symbol); 0 for an empty stream.
    private static (long Bits, long TableBits) HuffmanBits(int[] symbols, int alphabet)
    {
        if (symbols.Length == 0) return (0, 0);
        var frequencies = HuffmanCode.Frequencies(symbols, alphabet);
        return (HuffmanCode.FromFrequencies(frequencies).EncodedBits(frequencies), 8L * alphabet);
    }
}
