// The codebook form of SparseStorage, for weight-shared tensors (Deep Compression §3): the distinct
// values as a float32 codebook "NAME.__codebook", and one b-bit index per element, bit-packed, in
// "NAME.__codes" (Kernels/Int8Gemm/BitPacking layout). "codebook" indexes every element (a zero, if present, is
// one more codebook value); "bitmap_codebook" adds "NAME.__bitmap" and indexes only the non-zeros, which
// is smaller for pruned tensors. Values are compared by their bits, so loading gives back the exact floats.
using System.Numerics;
using Condense.Kernels.Int8Gemm;
using Condense.Tensors;

namespace Condense.Formats;

public static partial class SparseStorage
{
    /// <summary>The most distinct values a codebook holds: indices are at most 8 bits.</summary>
    public const int MaxCodebook = 256;

    private const string CodebookFormat = "codebook", MaskedCodebookFormat = "bitmap_codebook";
    private const string CodebookSuffix = ".__codebook", CodesSuffix = ".__codes";

    // The codebook form of t when it has at most 256 distinct values and is smaller than `best` bytes; else null.
    private static (List<SafeTensorEntry> Entries, string Format, int Bits)? TryCodebook(string name, Tensor t, long best)
    {
        var distinct = new HashSet<uint>();
        int zeros = 0;
        foreach (float v in t.Data)
        {
            uint bits = BitConverter.SingleToUInt32Bits(v);
            if (bits == 0) zeros++;
            else if (distinct.Add(bits) && distinct.Count > MaxCodebook) return null;
        }
        if (distinct.Count == 0) return null;
        int withZero = distinct.Count + (zeros > 0 ? 1 : 0);
        long all = withZero <= MaxCodebook ? BitPacking.PackedBytes(t.Size, IndexBits(withZero)) + 4L * withZero : long.MaxValue;
        long masked = zeros > 0
            ? (t.Size + 7) / 8 + BitPacking.PackedBytes(t.Size - zeros, IndexBits(distinct.Count)) + 4L * distinct.Count
            : long.MaxValue;
        if (Math.Min(all, masked) >= best) return null;

        bool useMask = masked < all;
        if (!useMask && zeros > 0) distinct.Add(0u);
        // Ascending values, ties (NaN payloads) by their bits, so the codebook is deterministic.
        uint[] codebook = [.. distinct.OrderBy(BitConverter.UInt32BitsToSingle).ThenBy(b => b)];
        var indexOf = new Dictionary<uint, int>(codebook.Length);
        for (int k = 0; k < codebook.Length; k++) indexOf[codebook[k]] = k;
        int bitsPerIndex = IndexBits(codebook.Length);
        var indices = new List<int>(t.Size);
        var bitmap = useMask ? new byte[(t.Size + 7) / 8] : null;
        for (int i = 0; i < t.Size; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(t.Data[i]);
            if (bitmap is not null)
            {
                if (bits == 0) continue;
                bitmap[i >> 3] |= (byte)(1 << (i & 7));
            }
            indices.Add(indexOf[bits]);
        }
        var values = Array.ConvertAll(codebook, BitConverter.UInt32BitsToSingle);
        var packed = BitPacking.Pack(indices.ToArray(), bitsPerIndex);
        var entries = new List<SafeTensorEntry>
        {
            SafeTensorEntry.FromFloat(name + CodebookSuffix, new Tensor(values, values.Length)),
            SafeTensorEntry.FromUInt8(name + CodesSuffix, packed, packed.Length),
        };
        if (bitmap is not null) entries.Add(SafeTensorEntry.FromUInt8(name + ".__bitmap", bitmap, bitmap.Length));
        return (entries, useMask ? MaskedCodebookFormat : CodebookFormat, bitsPerIndex);
    }

    // Bits to index k values: ⌈log2 k⌉, at least 1.
    private static int IndexBits(int k) => k <= 2 ? 1 : 32 - BitOperations.LeadingZeroCount((uint)(k - 1));

    private static Tensor DecodeCodebook(SafeTensorFile file, string name, Entry entry, long size, HashSet<string> parts)
    {
        if (entry.Bits is < 1 or > 8) throw Corrupt(file, name, $"{entry.Bits} bits per codebook index (expected 1 to 8)");
        var codebookEntry = Part(file, name + CodebookSuffix, parts);
        if (codebookEntry.DType != SafeTensorDType.F32) throw Corrupt(file, name, $"codebook of dtype {codebookEntry.DType.ToCode()}, not F32");
        var codebook = codebookEntry.ToFloatTensor().Data;
        if (codebook.Length == 0 || codebook.Length > 1 << entry.Bits)
            throw Corrupt(file, name, $"codebook of {codebook.Length} values for {entry.Bits}-bit indices");
        byte[]? bitmap = null;
        long count = size;
        if (entry.Format == MaskedCodebookFormat)
        {
            bitmap = Part(file, name + ".__bitmap", parts).ToUInt8Array();
            if (bitmap.Length != (size + 7) / 8) throw Corrupt(file, name, "bitmap length does not match the shape");
            count = 0;
            for (long i = 0; i < size; i++) if ((bitmap[i >> 3] & (1 << (int)(i & 7))) != 0) count++;
        }
        var codes = Part(file, name + CodesSuffix, parts).ToUInt8Array();
        if (codes.Length != BitPacking.PackedBytes(count, entry.Bits))
            throw Corrupt(file, name, $"{codes.Length} bytes of codes, {count} indices of {entry.Bits} bits need {BitPacking.PackedBytes(count, entry.Bits)}");
        var indices = BitPacking.Unpack(codes, entry.Bits, (int)count);
        var data = new float[size];
        for (int i = 0, k = 0; i < size; i++)
        {
            if (bitmap is not null && (bitmap[i >> 3] & (1 << (i & 7))) == 0) continue;
            int index = indices[k++];
            if (index >= codebook.Length) throw Corrupt(file, name, $"index {index} outside a codebook of {codebook.Length}");
            data[i] = codebook[index];
        }
        return new Tensor(data, entry.Shape);
    }
}
