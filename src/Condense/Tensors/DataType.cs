// The element types a tensor can hold: every numeric type of ONNX's TensorProto.DataType and bool. Values are
// kept in one of three storages (see Tensor.Typed.cs): float32 (also float16 and bfloat16, whose values are
// kept rounded to their type), float64, or int64 (every integer type and bool, wrapped to the type's width).
namespace Condense.Tensors;

/// <summary>The element type of a tensor (ONNX's tensor element types, less string and the float8 types).</summary>
public enum DataType
{
    /// <summary>32-bit float: the type Condense trains in.</summary>
    Float32,
    /// <summary>64-bit float.</summary>
    Float64,
    /// <summary>IEEE half precision, computed in float32 and rounded back after each op.</summary>
    Float16,
    /// <summary>bfloat16 (the upper half of a float32), computed in float32 and rounded back after each op.</summary>
    BFloat16,
    /// <summary>Signed 8-bit integer.</summary>
    Int8,
    /// <summary>Signed 16-bit integer.</summary>
    Int16,
    /// <summary>Signed 32-bit integer.</summary>
    Int32,
    /// <summary>Signed 64-bit integer.</summary>
    Int64,
    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8,
    /// <summary>Unsigned 16-bit integer.</summary>
    UInt16,
    /// <summary>Unsigned 32-bit integer.</summary>
    UInt32,
    /// <summary>Unsigned 64-bit integer (held as the bits of an int64).</summary>
    UInt64,
    /// <summary>Boolean, held as 0 or 1.</summary>
    Bool,
}

/// <summary>How a tensor of a <see cref="DataType"/> holds its values.</summary>
public enum TensorStorage
{
    /// <summary>float[]: float32, float16, bfloat16.</summary>
    Single,
    /// <summary>double[]: float64.</summary>
    Double,
    /// <summary>long[]: every integer type and bool.</summary>
    Int64,
}

/// <summary>Facts about element types and the conversions between them.</summary>
public static class DataTypes
{
    /// <summary>Every element type.</summary>
    public static IReadOnlyList<DataType> All { get; } = Enum.GetValues<DataType>();

    /// <summary>The storage that holds values of <paramref name="type"/>.</summary>
    public static TensorStorage Storage(this DataType type) => type switch
    {
        DataType.Float32 or DataType.Float16 or DataType.BFloat16 => TensorStorage.Single,
        DataType.Float64 => TensorStorage.Double,
        _ => TensorStorage.Int64,
    };

    /// <summary>True for the four floating-point types.</summary>
    public static bool IsFloat(this DataType type) => type.Storage() != TensorStorage.Int64;

    /// <summary>True for the integer types (not bool).</summary>
    public static bool IsInteger(this DataType type) => type.Storage() == TensorStorage.Int64 && type != DataType.Bool;

    /// <summary>True for the signed integer types.</summary>
    public static bool IsSignedInteger(this DataType type) => type is DataType.Int8 or DataType.Int16 or DataType.Int32 or DataType.Int64;

    /// <summary>Bytes per element as ONNX stores it.</summary>
    public static int ByteSize(this DataType type) => type switch
    {
        DataType.Int8 or DataType.UInt8 or DataType.Bool => 1,
        DataType.Int16 or DataType.UInt16 or DataType.Float16 or DataType.BFloat16 => 2,
        DataType.Int32 or DataType.UInt32 or DataType.Float32 => 4,
        _ => 8,
    };

    /// <summary>
    /// An integer result wrapped to the type, as two's-complement hardware (and ONNX Runtime) does:
    /// uint8 200 + 100 is 44. Bool maps every non-zero value to 1. UInt64 keeps the 64 bits.
    /// </summary>
    public static long Wrap(this DataType type, long value) => type switch
    {
        DataType.Int8 => (sbyte)value,
        DataType.Int16 => (short)value,
        DataType.Int32 => (int)value,
        DataType.UInt8 => (byte)value,
        DataType.UInt16 => (ushort)value,
        DataType.UInt32 => (uint)value,
        DataType.Bool => value != 0 ? 1 : 0,
        _ => value,
    };

    /// <summary>A float32 value rounded to <paramref name="type"/> (float16 or bfloat16: round to nearest even); others unchanged.</summary>
    public static float Round(this DataType type, float value) => type switch
    {
        DataType.Float16 => (float)(Half)value,
        DataType.BFloat16 => RoundToBFloat16(value),
        _ => value,
    };

    /// <summary>bfloat16 is the upper half of a float32: keep it with round-to-nearest-even on the dropped 16 bits.</summary>
    public static float RoundToBFloat16(float value)
    {
        if (float.IsNaN(value)) return value;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u);
    }

    /// <summary>The TensorProto.DataType code ONNX gives the type.</summary>
    public static int OnnxCode(this DataType type) => type switch
    {
        DataType.Float32 => 1, DataType.UInt8 => 2, DataType.Int8 => 3, DataType.UInt16 => 4, DataType.Int16 => 5,
        DataType.Int32 => 6, DataType.Int64 => 7, DataType.Bool => 9, DataType.Float16 => 10, DataType.Float64 => 11,
        DataType.UInt32 => 12, DataType.UInt64 => 13, _ => 16,
    };

    /// <summary>The type of an ONNX TensorProto.DataType code, or null for codes Condense does not hold (string, float8, 4-bit, complex).</summary>
    public static DataType? FromOnnxCode(long code) => code switch
    {
        1 => DataType.Float32, 2 => DataType.UInt8, 3 => DataType.Int8, 4 => DataType.UInt16, 5 => DataType.Int16,
        6 => DataType.Int32, 7 => DataType.Int64, 9 => DataType.Bool, 10 => DataType.Float16, 11 => DataType.Float64,
        12 => DataType.UInt32, 13 => DataType.UInt64, 16 => DataType.BFloat16,
        _ => null,
    };

    /// <summary>The name ONNX gives the type ("float", "int64", "bool", …).</summary>
    public static string OnnxName(this DataType type) => type switch
    {
        DataType.Float32 => "float", DataType.Float64 => "double", DataType.Float16 => "float16", DataType.BFloat16 => "bfloat16",
        DataType.Int8 => "int8", DataType.Int16 => "int16", DataType.Int32 => "int32", DataType.Int64 => "int64",
        DataType.UInt8 => "uint8", DataType.UInt16 => "uint16", DataType.UInt32 => "uint32", DataType.UInt64 => "uint64",
        _ => "bool",
    };

    /// <summary>The type ONNX names <paramref name="name"/> ("float", "int64", …), or null.</summary>
    public static DataType? FromOnnxName(string name) => All.Cast<DataType?>().FirstOrDefault(t => t!.Value.OnnxName() == name);
}
