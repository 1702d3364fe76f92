// Sparse tensors on disk, so a pruned model's file shrinks with its sparsity. Each tensor is written in
// whichever form is smallest: dense F32 (4n bytes); a bitmap of non-zeros plus their values
// (n/8 + 4·nnz); or compressed sparse rows (4·nnz values + 2 or 4 bytes per column index + 4 per row).
// Sparse forms are safetensors entries "NAME.__bitmap"/"NAME.__values" or "NAME.__csr_values"/
// "NAME.__csr_indices"/"NAME.__csr_rows", described in the metadata key "condense.sparse".
using System.Runtime.InteropServices;
using System.Text.Json;
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>Encodes and decodes tensors in the smallest of dense, bitmap and CSR form.</summary>
public static class SparseStorage
{
    /// <summary>Metadata key listing the sparse tensors: name → {"format", "shape"}.</summary>
    public const string MetadataKey = "condense.sparse";

    private sealed record Entry(string Format, int[] Shape);

    /// <summary>The safetensors entries for all tensors, and the metadata describing the sparse ones (null if none).</summary>
    public static (List<SafeTensorEntry> Entries, string? Metadata) Encode(IEnumerable<KeyValuePair<string, Tensor>> tensors)
    {
        var entries = new List<SafeTensorEntry>();
        var sparse = new Dictionary<string, Entry>();
        foreach (var (name, t) in tensors)
        {
            int nnz = t.Size - CountZeros(t.Data);
            long dense = 4L * t.Size;
            long bitmap = (t.Size + 7) / 8 + 4L * nnz;
            int cols = t.Rank >= 2 ? t.Shape[^1] : t.Size, rows = t.Size / Math.Max(1, cols);
            long csr = t.Rank >= 2 ? 4L * nnz + (cols <= ushort.MaxValue + 1 ? 2L : 4L) * nnz + 4L * (rows + 1) : long.MaxValue;
            if (dense <= Math.Min(bitmap, csr)) { entries.Add(SafeTensorEntry.FromFloat(name, t)); continue; }
            if (bitmap <= csr)
            {
                var bits = new byte[(t.Size + 7) / 8];
                var values = new float[nnz];
                for (int i = 0, k = 0; i < t.Size; i++)
                    if (t.Data[i] != 0f) { bits[i >> 3] |= (byte)(1 << (i & 7)); values[k++] = t.Data[i]; }
                entries.Add(SafeTensorEntry.FromUInt8(name + ".__bitmap", bits, bits.Length));
                entries.Add(SafeTensorEntry.FromFloat(name + ".__values", new Tensor(values, nnz)));
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
                entries.Add(SafeTensorEntry.FromFloat(name + ".__csr_values", new Tensor(values, nnz)));
                entries.Add(cols <= ushort.MaxValue + 1
                    ? SafeTensorEntry.FromBytes(name + ".__csr_indices", SafeTensorDType.U16, [nnz], MemoryMarshal.AsBytes(columns.Select(c => (ushort)c).ToArray().AsSpan()).ToArray())
                    : SafeTensorEntry.FromInt32(name + ".__csr_indices", columns, nnz));
                entries.Add(SafeTensorEntry.FromInt32(name + ".__csr_rows", rowStarts, rows + 1));
                sparse[name] = new Entry("csr", t.Shape);
            }
        }
        return (entries, sparse.Count == 0 ? null : JsonSerializer.Serialize(sparse));
    }

    /// <summary>Rebuilds dense float tensors from a file's entries and its "condense.sparse" metadata.</summary>
    public static Dictionary<string, Tensor> Decode(SafeTensorFile file)
    {
        var tensors = new Dictionary<string, Tensor>();
        Dictionary<string, Entry>? sparse = null;
        if (file.Metadata.TryGetValue(MetadataKey, out var json))
        {
            try { sparse = JsonSerializer.Deserialize<Dictionary<string, Entry>>(json); }
            catch (JsonException e) { throw new InvalidFileException(file.Path, $"malformed '{MetadataKey}' metadata ({e.Message.Split('\n')[0]})"); }
        }
        var parts = new HashSet<string>();
        foreach (var (name, entry) in sparse ?? [])
        {
            int size = Shape.Size(entry.Shape ?? throw new InvalidFileException(file.Path, $"sparse tensor '{name}' has no shape"));
            var data = new float[size];
            if (entry.Format == "bitmap")
            {
                var bits = Part(file, name + ".__bitmap", parts).ToUInt8Array();
                var values = Part(file, name + ".__values", parts).ToFloatTensor().Data;
                if (bits.Length != (size + 7) / 8) throw Corrupt(file, name, "bitmap length does not match the shape");
                int k = 0;
                for (int i = 0; i < size; i++)
                    if ((bits[i >> 3] & (1 << (i & 7))) != 0)
                    {
                        if (k >= values.Length) throw Corrupt(file, name, "more bits set than values stored");
                        data[i] = values[k++];
                    }
                if (k != values.Length) throw Corrupt(file, name, "fewer bits set than values stored");
            }
            else if (entry.Format == "csr")
            {
                int cols = entry.Shape.Length >= 2 ? entry.Shape[^1] : size, rows = size / Math.Max(1, cols);
                var values = Part(file, name + ".__csr_values", parts).ToFloatTensor().Data;
                var indexEntry = Part(file, name + ".__csr_indices", parts);
                int[] columns = indexEntry.DType == SafeTensorDType.U16
                    ? MemoryMarshal.Cast<byte, ushort>(indexEntry.Data).ToArray().Select(c => (int)c).ToArray()
                    : indexEntry.ToInt32Array();
                var rowStarts = Part(file, name + ".__csr_rows", parts).ToInt32Array();
                if (rowStarts.Length != rows + 1 || columns.Length != values.Length || rowStarts[0] != 0 || rowStarts[rows] != values.Length)
                    throw Corrupt(file, name, "CSR arrays do not fit together");
                for (int r = 0; r < rows; r++)
                {
                    if (rowStarts[r + 1] < rowStarts[r]) throw Corrupt(file, name, "CSR row starts decrease");
                    for (int k = rowStarts[r]; k < rowStarts[r + 1]; k++)
                    {
                        if ((uint)columns[k] >= (uint)cols) throw Corrupt(file, name, $"column index {columns[k]} outside {cols} columns");
                        data[r * cols + columns[k]] = values[k];
                    }
                }
            }
            else throw Corrupt(file, name, $"unknown sparse format '{entry.Format}'");
            tensors[name] = new Tensor(data, entry.Shape);
        }
        foreach (var entry in file.Tensors)
            if (!parts.Contains(entry.Name)) tensors[entry.Name] = entry.ToFloatTensor();
        return tensors;
    }

    private static SafeTensorEntry Part(SafeTensorFile file, string name, HashSet<string> parts)
    {
        if (!file.TryGet(name, out var entry)) throw new InvalidFileException(file.Path, $"sparse tensor part '{name}' is missing");
        parts.Add(name);
        return entry;
    }

    private static InvalidFileException Corrupt(SafeTensorFile file, string name, string fault) =>
        new(file.Path, $"sparse tensor '{name}': {fault}");

    private static int CountZeros(float[] data)
    {
        int zeros = 0;
        foreach (float v in data) if (v == 0f) zeros++;
        return zeros;
    }
}
