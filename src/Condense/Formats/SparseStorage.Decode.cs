// Decoding of SparseStorage's forms. The file is untrusted: every shape in the metadata is checked
// (no negative dimension, no overflow) and every part's length against it before the dense tensor is
// allocated, so a corrupt header cannot make the reader allocate far more than the file holds. Any
// fault, including a part of the wrong dtype, is an InvalidFileException naming the file.
using System.Runtime.InteropServices;
using System.Text.Json;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Formats;

public static partial class SparseStorage
{
    /// <summary>
    /// Dense elements a file's CSR tensors may decode to beyond 8 per stored byte: CSR stores nothing for an empty
    /// row segment, so a mostly-empty matrix legitimately outgrows its bytes; 2^24 floats (64 MiB) bound that.
    /// </summary>
    public const long CsrAllowance = 1L << 24;

    /// <summary>Rebuilds dense float tensors from a file's entries and its "condense.sparse" metadata.</summary>
    /// <exception cref="InvalidFileException">The sparse metadata or a part does not fit together.</exception>
    public static Dictionary<string, Tensor> Decode(SafeTensorFile file)
    {
        try { return DecodeUnchecked(file); }
        // Dtype and shape checks of the entries (ToUInt8Array, ToFloatTensor, Tensor) throw plain CondenseException.
        catch (CondenseException e) when (e is not InvalidFileException) { throw new InvalidFileException(file.Path, e.Message); }
        catch (ArgumentException e) { throw new InvalidFileException(file.Path, e.Message.ReplaceLineEndings(" ")); }
    }

    private static Dictionary<string, Tensor> DecodeUnchecked(SafeTensorFile file)
    {
        var tensors = new Dictionary<string, Tensor>();
        Dictionary<string, Entry?>? sparse = null;
        if (file.Metadata.TryGetValue(MetadataKey, out var json))
        {
            try { sparse = JsonSerializer.Deserialize<Dictionary<string, Entry?>>(json); }
            catch (JsonException e) { throw new InvalidFileException(file.Path, $"malformed '{MetadataKey}' metadata ({e.Message.Split('\n')[0]})"); }
        }
        var parts = new HashSet<string>();
        foreach (var (name, shape) in Int4Shapes(file))
        {
            long size = Elements(file, name, shape);
            var packed = Part(file, name, parts).ToUInt8Array();
            if (packed.Length != (size + 1) / 2) throw Corrupt(file, name, "packed int4 length does not match the shape");
            var values = new sbyte[size];
            Kernels.Int8Gemm.Int4.Unpack(packed, values);
            tensors[name] = new Tensor(values.Select(v => (float)v).ToArray(), shape);
        }
        long csrAllowance = CsrAllowance + 8 * file.Tensors.Sum(t => (long)t.Data.Length);
        foreach (var (name, entry) in sparse ?? [])
        {
            if (entry is null) throw Corrupt(file, name, "no description");
            long size = Elements(file, name, entry.Shape);
            tensors[name] = entry.Format switch
            {
                "bitmap" => DecodeBitmap(file, name, entry.Shape, size, parts),
                "csr" => DecodeCsr(file, name, entry.Shape, size, parts, ref csrAllowance),
                CodebookFormat or MaskedCodebookFormat => DecodeCodebook(file, name, entry, size, parts),
                _ => throw Corrupt(file, name, $"unknown sparse format '{entry.Format}'"),
            };
        }
        var typed = TypedNames(file);
        foreach (var entry in file.Tensors)
            if (!parts.Contains(entry.Name))
                tensors[entry.Name] = typed.Contains(entry.Name) ? TypedTensor(entry)
                    : entry.ToFloatTensor(allowIntegers: TypeOf(entry) != ElementType.Float32);
        return tensors;
    }

    private static Tensor DecodeBitmap(SafeTensorFile file, string name, int[] shape, long size, HashSet<string> parts)
    {
        var bits = Part(file, name + ".__bitmap", parts).ToUInt8Array();
        var values = Part(file, name + ".__values", parts).ToFloatTensor(allowIntegers: true).Data;
        if (bits.Length != (size + 7) / 8) throw Corrupt(file, name, "bitmap length does not match the shape");
        var data = new float[size];
        int k = 0;
        for (int i = 0; i < size; i++)
            if ((bits[i >> 3] & (1 << (i & 7))) != 0)
            {
                if (k >= values.Length) throw Corrupt(file, name, "more bits set than values stored");
                data[i] = values[k++];
            }
        if (k != values.Length) throw Corrupt(file, name, "fewer bits set than values stored");
        return new Tensor(data, shape);
    }

    private static Tensor DecodeCsr(SafeTensorFile file, string name, int[] shape, long size, HashSet<string> parts, ref long allowance)
    {
        int cols = shape.Length >= 2 ? shape[^1] : (int)size, rows = (int)(size / Math.Max(1, cols));
        var values = Part(file, name + ".__csr_values", parts).ToFloatTensor(allowIntegers: true).Data;
        var indexEntry = Part(file, name + ".__csr_indices", parts);
        int[] columns = indexEntry.DType == SafeTensorDType.U16
            ? MemoryMarshal.Cast<byte, ushort>(indexEntry.Data).ToArray().Select(c => (int)c).ToArray()
            : indexEntry.ToInt32Array();
        var rowStarts = Part(file, name + ".__csr_rows", parts).ToInt32Array();
        if (rowStarts.Length != rows + 1 || columns.Length != values.Length || rowStarts[0] != 0 || rowStarts[rows] != values.Length)
            throw Corrupt(file, name, "CSR arrays do not fit together");
        if ((allowance -= size) < 0) throw Corrupt(file, name, $"shape {Shape.Format(shape)} is far larger than the stored CSR arrays");
        var data = new float[size];
        for (int r = 0; r < rows; r++)
        {
            if (rowStarts[r + 1] < rowStarts[r] || rowStarts[r + 1] > values.Length) throw Corrupt(file, name, "CSR row starts decrease or pass the end");
            for (int k = rowStarts[r]; k < rowStarts[r + 1]; k++)
            {
                if ((uint)columns[k] >= (uint)cols) throw Corrupt(file, name, $"column index {columns[k]} outside {cols} columns");
                data[r * cols + columns[k]] = values[k];
            }
        }
        return new Tensor(data, shape);
    }

    // The element count of a shape from the metadata: present, no negative dimension, small enough for one array.
    private static long Elements(SafeTensorFile file, string name, int[]? shape)
    {
        if (shape is null) throw Corrupt(file, name, "no shape");
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw Corrupt(file, name, $"negative dimension in shape {Shape.Format(shape)}");
            n = Math.Min(n * d, (long)Array.MaxLength + 1);
        }
        if (n > Array.MaxLength) throw Corrupt(file, name, $"shape {Shape.Format(shape)} is too large");
        return n;
    }

    private static SafeTensorEntry Part(SafeTensorFile file, string name, HashSet<string> parts)
    {
        if (!file.TryGet(name, out var entry)) throw new InvalidFileException(file.Path, $"sparse tensor part '{name}' is missing");
        parts.Add(name);
        return entry;
    }

    private static InvalidFileException Corrupt(SafeTensorFile file, string name, string fault) =>
        new(file.Path, $"sparse tensor '{name}': {fault}");
}
