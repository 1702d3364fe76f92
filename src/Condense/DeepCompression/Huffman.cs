// Canonical Huffman coding (Huffman 1952; canonical form as in DEFLATE, RFC 1951 §3.2.2), the last stage
// of Deep Compression (§4): cluster indices and index gaps are far from uniform, so a variable-length
// prefix code saves 20–30 % more. Only the code lengths need storing; codes follow from them.
namespace Condense.DeepCompression;

/// <summary>A canonical Huffman code over the symbols 0..n−1.</summary>
/// <remarks>
/// Lengths: the classic merge of the two least frequent nodes. Ties are broken deterministically: among equal
/// weights, leaves (by symbol) come before merged nodes, and merged nodes in the order they were made.
/// Codes: canonical — sorted by (length, symbol), each code is the previous plus one, shifted left when the
/// length grows. Bits are written most significant first, and bytes filled from their most significant bit.
/// One used symbol gets the 1-bit code 0. Unused symbols (frequency 0) have length 0 and no code.
/// </remarks>
public sealed class HuffmanCode
{
    private readonly ulong[] _codes;
    // Decoding tables (as in zlib's puff.c): symbols sorted by (length, symbol) and the count per length.
    private readonly int[] _sorted;
    private readonly int[] _countPerLength;

    private HuffmanCode(int[] lengths)
    {
        Lengths = lengths;
        int maxLength = lengths.Length == 0 ? 0 : lengths.Max();
        if (maxLength > 64) throw new CondenseException($"Huffman code of {maxLength} bits is too long");
        _countPerLength = new int[maxLength + 1];
        foreach (int l in lengths) if (l > 0) _countPerLength[l]++;
        _sorted = Enumerable.Range(0, lengths.Length).Where(s => lengths[s] > 0).OrderBy(s => lengths[s]).ThenBy(s => s).ToArray();
        _codes = new ulong[lengths.Length];
        ulong code = 0;
        int previousLength = 0;
        foreach (int s in _sorted)
        {
            code <<= lengths[s] - previousLength;
            previousLength = lengths[s];
            _codes[s] = code++;
        }
    }

    /// <summary>The code length in bits of each symbol (0 for a symbol that never occurs).</summary>
    public IReadOnlyList<int> Lengths { get; }

    /// <summary>The number of symbols in the alphabet.</summary>
    public int AlphabetSize => Lengths.Count;

    /// <summary>The canonical code of <paramref name="symbol"/>, right-aligned in <see cref="Lengths"/>[symbol] bits.</summary>
    public ulong Code(int symbol) => _codes[symbol];

    /// <summary>Builds the optimal code for the given frequencies (symbol s occurs frequencies[s] times).</summary>
    public static HuffmanCode FromFrequencies(ReadOnlySpan<long> frequencies)
    {
        var lengths = new int[frequencies.Length];
        // Nodes 0..n−1 are the leaves; merged nodes get the next ids. The queue orders by (weight, id).
        var queue = new PriorityQueue<int, (long Weight, int Id)>();
        var parent = new List<int>();
        for (int s = 0; s < frequencies.Length; s++)
        {
            if (frequencies[s] < 0) throw new ArgumentException($"negative frequency {frequencies[s]} for symbol {s}");
            parent.Add(-1);
            if (frequencies[s] > 0) queue.Enqueue(s, (frequencies[s], s));
        }
        if (queue.Count == 1) { lengths[queue.Dequeue()] = 1; return new HuffmanCode(lengths); }
        while (queue.Count > 1)
        {
            queue.TryDequeue(out int a, out var pa);
            queue.TryDequeue(out int b, out var pb);
            int id = parent.Count;
            parent.Add(-1);
            parent[a] = id; parent[b] = id;
            queue.Enqueue(id, (pa.Weight + pb.Weight, id));
        }
        // A node's depth is its parent's plus one; parents have larger ids, so walk ids downwards.
        var depth = new int[parent.Count];
        for (int id = parent.Count - 1; id >= 0; id--) if (parent[id] >= 0) depth[id] = depth[parent[id]] + 1;
        for (int s = 0; s < frequencies.Length; s++) if (frequencies[s] > 0) lengths[s] = depth[s];
        return new HuffmanCode(lengths);
    }

    /// <summary>Builds the code for the symbol frequencies of <paramref name="symbols"/> over the alphabet 0..<paramref name="alphabetSize"/>−1.</summary>
    public static HuffmanCode FromSymbols(ReadOnlySpan<int> symbols, int alphabetSize) =>
        FromFrequencies(Frequencies(symbols, alphabetSize));

    /// <summary>Rebuilds a code from its code lengths (what a file stores).</summary>
    public static HuffmanCode FromLengths(ReadOnlySpan<int> lengths)
    {
        // Kraft: Σ 2^−l ≤ 1, or the lengths describe no prefix code.
        double kraft = 0;
        foreach (int l in lengths)
        {
            if (l is < 0 or > 64) throw new ArgumentException($"code length {l} outside 0..64");
            if (l > 0) kraft += Math.Pow(2, -l);
        }
        if (kraft > 1 + 1e-12) throw new ArgumentException("the code lengths violate the Kraft inequality");
        return new HuffmanCode(lengths.ToArray());
    }

    /// <summary>How often each symbol 0..<paramref name="alphabetSize"/>−1 occurs in <paramref name="symbols"/>.</summary>
    public static long[] Frequencies(ReadOnlySpan<int> symbols, int alphabetSize)
    {
        var frequencies = new long[alphabetSize];
        foreach (int s in symbols)
        {
            if ((uint)s >= (uint)alphabetSize) throw new ArgumentOutOfRangeException(nameof(symbols), s, $"symbol outside 0..{alphabetSize - 1}");
            frequencies[s]++;
        }
        return frequencies;
    }

    /// <summary>The encoded size in bits of a stream with these symbol frequencies: Σ frequency·length.</summary>
    public long EncodedBits(ReadOnlySpan<long> frequencies)
    {
        long bits = 0;
        for (int s = 0; s < frequencies.Length; s++)
        {
            if (frequencies[s] == 0) continue;
            if (s >= Lengths.Count || Lengths[s] == 0) throw new ArgumentException($"symbol {s} has no code");
            bits += frequencies[s] * Lengths[s];
        }
        return bits;
    }

    /// <summary>Encodes <paramref name="symbols"/>; <paramref name="bitCount"/> is the exact number of bits written.</summary>
    public byte[] Encode(ReadOnlySpan<int> symbols, out long bitCount)
    {
        bitCount = 0;
        foreach (int s in symbols)
        {
            if ((uint)s >= (uint)Lengths.Count || Lengths[s] == 0) throw new ArgumentException($"symbol {s} has no code");
            bitCount += Lengths[s];
        }
        var data = new byte[(bitCount + 7) / 8];
        long position = 0;
        foreach (int s in symbols)
        {
            ulong code = _codes[s];
            for (int b = Lengths[s] - 1; b >= 0; b--, position++)
                if (((code >> b) & 1) != 0) data[position >> 3] |= (byte)(0x80 >> (int)(position & 7));
        }
        return data;
    }

    /// <summary>Decodes <paramref name="count"/> symbols from <paramref name="data"/> (written by <see cref="Encode"/>).</summary>
    public int[] Decode(ReadOnlySpan<byte> data, int count)
    {
        var symbols = new int[count];
        long position = 0, available = (long)data.Length * 8;
        for (int n = 0; n < count; n++)
        {
            // Canonical decoding: at length l the codes run from first to first + count[l] − 1.
            ulong code = 0, first = 0;
            int index = 0, length = 1;
            for (; ; length++)
            {
                if (length >= _countPerLength.Length || position >= available)
                    throw new CondenseException("corrupt Huffman stream: no code matches");
                code |= (uint)(data[(int)(position >> 3)] >> (7 - (int)(position & 7))) & 1u;
                position++;
                ulong c = (ulong)_countPerLength[length];
                if (code < first + c) { symbols[n] = _sorted[index + (int)(code - first)]; break; }
                index += (int)c;
                first = (first + c) << 1;
                code <<= 1;
            }
        }
        return symbols;
    }
}
