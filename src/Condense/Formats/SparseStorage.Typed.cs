// Tensors of types other than float32 (int64 shapes and indices, bool masks, float64 constants of imported models)
// are stored dense in their own safetensors dtype and listed under "condense.typed", so a checkpoint reads back
// the same types; without the list an I32 or U8 entry is a float-held quantization code (Graph/ElementType).
using System.Text.Json;
using Condense.Tensors;

namespace Condense.Formats;

public static partial class SparseStorage
{
    /// <summary>Metadata key: the JSON list of tensors stored in their own element type.</summary>
    public const string TypedKey = "condense.typed";

    private static SafeTensorEntry TypedEntry(string name, Tensor t) =>
        SafeTensorEntry.FromBytes(name, DTypeOf(t.DataType), t.Shape.Select(d => (long)d).ToArray(), TensorBytes.ToLittleEndian(t));

    private static Tensor TypedTensor(SafeTensorEntry entry) =>
        TensorBytes.FromLittleEndian(TypeOf(entry.DType), entry.Data, entry.ShapeAsInt32());

    private static HashSet<string> TypedNames(SafeTensorFile file)
    {
        if (!file.Metadata.TryGetValue(TypedKey, out var json)) return [];
        try { return JsonSerializer.Deserialize<HashSet<string>>(json) ?? []; }
        catch (JsonException e) { throw new InvalidFileException(file.Path, $"malformed '{TypedKey}' metadata ({e.Message.Split('\n')[0]})"); }
    }

    private static SafeTensorDType DTypeOf(DataType type) => type switch
    {
        DataType.Float32 => SafeTensorDType.F32, DataType.Float64 => SafeTensorDType.F64, DataType.Float16 => SafeTensorDType.F16,
        DataType.BFloat16 => SafeTensorDType.BF16, DataType.Int8 => SafeTensorDType.I8, DataType.Int16 => SafeTensorDType.I16,
        DataType.Int32 => SafeTensorDType.I32, DataType.Int64 => SafeTensorDType.I64, DataType.UInt8 => SafeTensorDType.U8,
        DataType.UInt16 => SafeTensorDType.U16, DataType.UInt32 => SafeTensorDType.U32, DataType.UInt64 => SafeTensorDType.U64,
        _ => SafeTensorDType.BOOL,
    };

    private static DataType TypeOf(SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.F32 => DataType.Float32, SafeTensorDType.F64 => DataType.Float64, SafeTensorDType.F16 => DataType.Float16,
        SafeTensorDType.BF16 => DataType.BFloat16, SafeTensorDType.I8 => DataType.Int8, SafeTensorDType.I16 => DataType.Int16,
        SafeTensorDType.I32 => DataType.Int32, SafeTensorDType.I64 => DataType.Int64, SafeTensorDType.U8 => DataType.UInt8,
        SafeTensorDType.U16 => DataType.UInt16, SafeTensorDType.U32 => DataType.UInt32, SafeTensorDType.U64 => DataType.UInt64,
        SafeTensorDType.BOOL => DataType.Bool,
        var d => throw new CondenseException($"a {d} entry listed in '{TypedKey}' cannot be held as a typed tensor"),
    };
}
