// Sparse tensors on disk, so a pruned model's file shrinks with its sparsity. Each tensor is written in
// whichever form is smallest: dense F32 (4n bytes); a bitmap of non-zeros plus their values
// (n/8 + 4·nnz); or compressed sparse rows (4·nnz values + 2 or 4 bytes per column index + 4 per row).
// Sparse forms are safetensors entries "NAME.__bitmap"/"NAME.__values" or "NAME.__csr_values"/
// "NAME.__csr_indices"/"NAME.__csr_rows", described in the metadata key "condense.sparse". Tensors the
// caller names as shared (few distinct values) may take the codebook form (SparseStorage.Codebook.cs);
// decoding is in SparseStorage.Decode.cs.
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Formats;

/// <summary>Encodes and decodes tensors in the smallest of dense, bitmap and CSR form.</summary>
public static partial class SparseStorage
{
    /// <summary>Metadata key listing the sparse tensors: name → {"format", "shape"}.</summary>
    public const string MetadataKey = "condense.sparse";

    /// <summary>Metadata key listing the int4 tensors (stored packed as U8): name → shape.</summary>
    public const string Int4Key = "condense.int4";

    // Bits: bits per codebook index (codebook forms only, so left out of the JSON of the others).
    private sealed record Entry(string Format, int[] Shape,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Bits = 0);

    /// <summary>
    /// The safetensors entries for all tensors, and the metadata describing the sparse ones (null if none).
    /// Integer tensors (<paramref name="types"/>) are stored in their own type, their non-zero values too. Float tensors
    /// named in <paramref name="codebook"/> (weight-shared ones) are stored as a float32 codebook of their distinct
    /// values plus bit-packed indices when they have at most 256 distinct values and that form is the smallest.
    /// </summary>
    public static (List<SafeTensorEntry> Entries, Dictionary<string, string> Metadata) Encode(IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, ElementType>? types = null, IReadOnlyCollection<string>? codebook = null)
    {
        var entries = new List<SafeTensorEntry>();
        var sparse = new Dictionary<string, Entry>();
        var int4 = new Dictionary<string, int[]>();
        var typed = new List<string>();
        foreach (var (name, t) in tensors)
        {
            if (t.DataType != DataType.Float32)
            {
                entries.Add(TypedEntry(name, t));
                typed.Add(name);
                continue;
            }
            var type = types is not null && types.TryGetValue(name, out var declared) ? declared : ElementType.Float32;
            type.CheckValues(name, t.Data);
            if (type == ElementType.Int4)
            {
                var packed = new byte[Kernels.Int8Gemm.Int4.PackedLength(t.Size)];
                Kernels.Int8Gemm.Int4.Pack(t.Data.Select(v => (sbyte)v).ToArray(), packed);
                entries.Add(SafeTensorEntry.FromUInt8(name, packed, packed.Length));
                int4[name] = t.Shape;
                continue;
            }
            long size = type switch { ElementType.Int8 or ElementType.UInt8 => 1, _ => 4 };
            int nnz = t.Size - CountZeros(t.Data);
            long dense = size * t.Size;
            long bitmap = (t.Size + 7) / 8 + size * nnz;
            int cols = t.Rank >= 2 ? t.Shape[^1] : t.Size, rows = t.Size / Math.Max(1, cols);
            long csr = t.Rank >= 2 ? size * nnz + (cols <= ushort.MaxValue + 1 ? 2L : 4L) * nnz + 4L * (rows + 1) : long.MaxValue;
            if (type == ElementType.Float32 && codebook is not null && codebook.Contains(name)
                && TryCodebook(name, t, Math.Min(dense, Math.Min(bitmap, csr))) is { } coded)
            {
                entries.AddRange(coded.Entries);
                sparse[name] = new Entry(coded.Format, t.Shape, coded.Bits);
                continue;
            }
            if (dense <= Math.Min(bitmap, csr)) { entries.Add(Values(name, t.Data, t.Shape, type)); continue; }
            if (bitmap <= csr)
            {
                var bits = new byte[(t.Size + 7) / 8];
                var values = new float[nnz];
                for (int i = 0, k = 0; i < t.Size; i++)
                    if (t.Data[i] != 0f) { bits[i >> 3] |= (byte)(1 << (i & 7)); values[k++] = t.Data[i]; }
                entries.Add(SafeTensorEntry.FromUInt8(name + ".__bitmap", bits, bits.Length));
                entries.Add(Values(name + ".__values", values, [nnz], type));
                sparse[name] = new Entry("bitmap", t.Shape);
            }
            else
            {
                var values = new float[nnz];
                var columns = new int[nnz];
                var rowStarts = new int[rows + 1];
                int k = 0;
                for (int r = 0; r < rows; r++)
                {
                    rowStarts[r] = k;
                    for (int c = 0; c < cols; c++)
                        if (t.Data[r * cols + c] is var v && v != 0f) { values[k] = v; columns[k++] = c; }
                }
                rowStarts[rows] = k;
                entries.Add(Values(name + ".__csr_values", values, [nnz], type));
                entries.Add(cols <= ushort.MaxValue + 1
                    ? SafeTensorEntry.FromBytes(name + ".__csr_indices", SafeTensorDType.U16, [nnz],
                        MemoryMarshal.AsBytes(columns.Select(c => (ushort)c).ToArray().AsSpan()).ToArray())
                    : SafeTensorEntry.FromInt32(name + ".__csr_indices", columns, nnz));
                entries.Add(SafeTensorEntry.FromInt32(name + ".__csr_rows", rowStarts, rows + 1));
                sparse[name] = new Entry("csr", t.Shape);
            }
        }
        var metadata = new Dictionary<string, string>();
        if (sparse.Count > 0) metadata[MetadataKey] = JsonSerializer.Serialize(sparse);
        if (int4.Count > 0) metadata[Int4Key] = JsonSerializer.Serialize(int4);
        if (typed.Count > 0) metadata[TypedKey] = JsonSerializer.Serialize(typed);
        return (entries, metadata);
    }

    // Values in their stored type: F32, or I8, U8, I32 for integer tensors (checked to be exact before).
    private static SafeTensorEntry Values(string name, float[] values, int[] shape, ElementType type)
    {
        long[] dims = shape.Select(d => (long)d).ToArray();
        return type switch
        {
            ElementType.Float32 => SafeTensorEntry.FromFloat(name, new Tensor(values, shape)),
            ElementType.Int8 => SafeTensorEntry.FromInt8(name, values.Select(v => (sbyte)v).ToArray(), dims),
            ElementType.UInt8 => SafeTensorEntry.FromUInt8(name, values.Select(v => (byte)v).ToArray(), dims),
            _ => SafeTensorEntry.FromInt32(name, values.Select(v => (int)v).ToArray(), dims),
        };
    }

    private static Dictionary<string, int[]> Int4Shapes(SafeTensorFile file)
    {
        if (!file.Metadata.TryGetValue(Int4Key, out var json)) return [];
        try { return JsonSerializer.Deserialize<Dictionary<string, int[]>>(json) ?? []; }
        catch (JsonException e) { throw new InvalidFileException(file.Path, $"malformed '{Int4Key}' metadata ({e.Message.Split('\n')[0]})"); }
    }

    /// <summary>The element type of every tensor in the file, sparse ones by the type of their stored values.</summary>
    public static Dictionary<string, ElementType> Types(SafeTensorFile file)
    {
        var types = new Dictionary<string, ElementType>();
        var int4 = Int4Shapes(file);
        var typed = TypedNames(file);
        foreach (var entry in file.Tensors)
        {
            string name = entry.Name;
            foreach (var suffix in (string[])[".__values", ".__csr_values", CodebookSuffix])
                if (name.EndsWith(suffix, StringComparison.Ordinal)) name = name[..^suffix.Length];
            if (name.EndsWith(".__bitmap", StringComparison.Ordinal) || name.EndsWith(".__csr_indices", StringComparison.Ordinal)
                || name.EndsWith(".__csr_rows", StringComparison.Ordinal) || name.EndsWith(CodesSuffix, StringComparison.Ordinal)) continue;
            if (typed.Contains(name)) continue;
            types[name] = int4.ContainsKey(name) ? ElementType.Int4 : TypeOf(entry);
        }
        return types;
    }

    /// <summary>The element type a stored entry stands for (integer dtypes map to their integer type).</summary>
    public static ElementType TypeOf(SafeTensorEntry entry) => entry.DType switch
    {
        SafeTensorDType.I8 => ElementType.Int8,
        SafeTensorDType.U8 => ElementType.UInt8,
        SafeTensorDType.I32 => ElementType.Int32,
        _ => ElementType.Float32,
    };

    private static int CountZeros(float[] data)
    {
        int zeros = 0;
        foreach (float v in data) if (v == 0f) zeros++;
        return zeros;
    }
}
