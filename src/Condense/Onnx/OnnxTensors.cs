// ONNX TensorProto → Condense tensor. Values come from raw_data (little-endian) or the typed fields
// (float_data, int32_data, int64_data, double_data); integers become float32 tensors holding exact
// integers, with their ElementType where Condense has one (int8, uint8, int32, int4). INT4 and UINT4 are
// packed two a byte, low nibble first (INT4 sign-extended); UINT4 (0..15) is held as UInt8, a wider type
// that keeps every value (a QuantizeLinear writing UINT4 gets the narrower range from the importer).
using System.Buffers.Binary;
using Condense.Graph;
using Condense.Tensors;
using Onnx;

namespace Condense.Onnx;

internal static partial class OnnxTensors
{
    // ONNX TensorProto.DataType codes.
    internal const int Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, Bool = 9, Float16 = 10,
        Double = 11, UInt32 = 12, UInt64 = 13, BFloat16 = 16, UInt4 = 21, Int4 = 22;

    /// <summary>The name ONNX gives an element type code ("float", "int64", …).</summary>
    internal static string TypeName(int code) => code switch
    {
        Float => "float", UInt8 => "uint8", Int8 => "int8", UInt16 => "uint16", Int16 => "int16", Int32 => "int32", Int64 => "int64",
        8 => "string", Bool => "bool", Float16 => "float16", Double => "double", UInt32 => "uint32", UInt64 => "uint64", BFloat16 => "bfloat16",
        _ => $"type {code}",
    };

    /// <summary>
    /// The tensor and, for integer types, the element type it stands for (null: float32 or int64). <paramref name="floatData"/>
    /// is a FLOAT tensor's raw data already read as floats (OnnxStreamReader); it becomes the tensor's storage.
    /// </summary>
    internal static (Tensor Tensor, ElementType? Type) Read(TensorProto proto, string path, float[]? floatData = null)
    {
        string name = proto.Name;
        if (proto.DataLocation == TensorProto.Types.DataLocation.External || proto.ExternalData.Count > 0)
            throw new InvalidFileException(path,
                $"tensor '{name}' is stored outside the file in a place Condense does not read (it reads initializers and node attributes)");
        var shape = proto.Dims.Select(d => d is >= 0 and <= int.MaxValue ? (int)d
            : throw new InvalidFileException(path, $"tensor '{name}' has invalid dimension {d}")).ToArray();
        // Clamped as it goes, so a product of huge dimensions cannot overflow back into range.
        long count = proto.Dims.Aggregate(1L, (a, d) => Math.Min(a * d, (long)Array.MaxLength + 1));
        if (count > Array.MaxLength) throw new InvalidFileException(path, $"tensor '{name}' of shape {Shape.Format(shape)} is too large");
        // Types without an ElementType of their own (float16, bool, 16/32/64-bit integers) are read as
        // float32 values: the engine computes in float32 (integers beyond 2^24 lose precision).
        var (elementSize, type) = proto.DataType switch
        {
            Float => (4, (ElementType?)null),
            UInt8 => (1, ElementType.UInt8),
            Int8 => (1, ElementType.Int8),
            Int32 => (4, ElementType.Int32),
            Int64 or Double or UInt64 => (8, null),
            Bool => (1, null),
            UInt16 or Int16 or Float16 or BFloat16 => (2, null),
            UInt32 => (4, null),
            Int4 => (0, ElementType.Int4),
            UInt4 => (0, ElementType.UInt8),
            var t => throw new InvalidFileException(path,
                $"tensor '{name}' has data type {t}, which is not supported (FLOAT, DOUBLE, FLOAT16, BFLOAT16, BOOL and the integer types)"),
        };
        // The values are counted against the shape before the tensor is allocated: the dims alone are untrusted.
        if (floatData is not null)
            return floatData.Length == count ? (new Tensor(floatData, shape), type)
                : throw new InvalidFileException(path,
                    $"tensor '{name}' has {4L * floatData.Length} bytes of raw data, its shape {Shape.Format(shape)} needs {count * elementSize}");
        if (elementSize == 0)
        {
            // 4-bit values, two to a byte: raw_data bytes, or one byte per int32_data element.
            long bytes = proto.RawData.IsEmpty ? proto.Int32Data.Count : proto.RawData.Length;
            if (bytes != (count + 1) / 2)
                throw new InvalidFileException(path,
                    $"tensor '{name}' has {bytes} bytes of 4-bit data, its shape {Shape.Format(shape)} needs {(count + 1) / 2}");
        }
        else if ((proto.RawData.IsEmpty ? TypedCount(proto) : proto.RawData.Length / elementSize) is var stored
            && (stored != count || proto.RawData.Length % elementSize != 0))
            throw new InvalidFileException(path, proto.RawData.IsEmpty
                ? $"tensor '{name}' has {stored} values, its shape {Shape.Format(shape)} needs {count}"
                : $"tensor '{name}' has {proto.RawData.Length} bytes of raw data, its shape {Shape.Format(shape)} needs {count * elementSize}");
        var data = new float[count];
        if (proto.DataType is Int4 or UInt4)
        {
            // Packed nibbles: raw_data bytes, or one byte per int32_data element.
            var packed = !proto.RawData.IsEmpty ? proto.RawData.ToByteArray() : proto.Int32Data.Select(v => (byte)v).ToArray();
            if (packed.Length != Kernels.Int8Gemm.Int4.PackedLength((int)count))
                throw new InvalidFileException(path,
                    $"tensor '{name}' has {packed.Length} bytes of 4-bit data, " +
                    $"its shape {Shape.Format(shape)} needs {Kernels.Int8Gemm.Int4.PackedLength((int)count)}");
            for (int i = 0; i < data.Length; i++)
            {
                int nibble = packed[i >> 1] >> 4 * (i & 1) & 0xF;
                data[i] = proto.DataType == Int4 ? (nibble ^ 8) - 8 : nibble;   // INT4 sign-extends bit 3
            }
        }
        else if (proto.DataType == Float && !proto.RawData.IsEmpty && BitConverter.IsLittleEndian)
            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(proto.RawData.Span).CopyTo(data);
        else if (!proto.RawData.IsEmpty)
        {
            var raw = proto.RawData.Span;
            for (int i = 0; i < data.Length; i++)
                data[i] = proto.DataType switch
                {
                    Float => BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]),
                    UInt8 => raw[i],
                    Int8 => (sbyte)raw[i],
                    Int32 => BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]),
                    Int64 => BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]),
                    Bool => raw[i] != 0 ? 1f : 0f,
                    UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]),
                    Int16 => BinaryPrimitives.ReadInt16LittleEndian(raw[(2 * i)..]),
                    Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(raw[(2 * i)..]),
                    BFloat16 => FromBFloat16(BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..])),
                    UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(raw[(4 * i)..]),
                    UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(raw[(8 * i)..]),
                    _ => (float)BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]),
                };
        }
        else
        {
            // Typed fields: the small integer types, bool and the 16-bit floats (as their bits) travel in
            // int32_data, uint32/uint64 in uint64_data, as the ONNX spec says.
            IReadOnlyList<float> values = proto.DataType switch
            {
                Float => proto.FloatData,
                Int64 => proto.Int64Data.Select(v => (float)v).ToList(),
                Double => proto.DoubleData.Select(v => (float)v).ToList(),
                UInt32 or UInt64 => proto.Uint64Data.Select(v => (float)v).ToList(),
                Float16 => proto.Int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToList(),
                BFloat16 => proto.Int32Data.Select(v => FromBFloat16((ushort)v)).ToList(),
                _ => proto.Int32Data.Select(v => (float)v).ToList(),
            };
            for (int i = 0; i < data.Length; i++) data[i] = values[i];
        }
        return (new Tensor(data, shape), type);
    }

    // The values held in the typed field that carries this data type.
    private static int TypedCount(TensorProto proto) => proto.DataType switch
    {
        Float => proto.FloatData.Count,
        Int64 => proto.Int64Data.Count,
        Double => proto.DoubleData.Count,
        UInt32 or UInt64 => proto.Uint64Data.Count,
        _ => proto.Int32Data.Count,
    };

    // bfloat16 is the upper 16 bits of a float32.
    private static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}
