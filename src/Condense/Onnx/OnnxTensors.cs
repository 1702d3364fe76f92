// ONNX TensorProto → Condense tensor. Values come from raw_data (little-endian) or the typed fields
// (float_data, int32_data, int64_data, double_data); integers become float32 tensors holding exact
// integers, with their ElementType where Condense has one (int8, uint8, int32).
using System.Buffers.Binary;
using Condense.Graph;
using Condense.Tensors;
using Onnx;

namespace Condense.Onnx;

internal static class OnnxTensors
{
    // ONNX TensorProto.DataType codes.
    internal const int Float = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7, Double = 11;

    /// <summary>The tensor and, for integer types, the element type it stands for (null: float32 or int64).</summary>
    internal static (Tensor Tensor, ElementType? Type) Read(TensorProto proto, string path)
    {
        string name = proto.Name;
        if (proto.DataLocation == TensorProto.Types.DataLocation.External || proto.ExternalData.Count > 0)
            throw new InvalidFileException(path, $"tensor '{name}' is stored outside the file: external data is not supported (save the model with its weights inside the .onnx file)");
        var shape = proto.Dims.Select(d => d is >= 0 and <= int.MaxValue ? (int)d
            : throw new InvalidFileException(path, $"tensor '{name}' has invalid dimension {d}")).ToArray();
        long count = proto.Dims.Aggregate(1L, (a, d) => a * d);
        if (count > Array.MaxLength) throw new InvalidFileException(path, $"tensor '{name}' is too large ({count} elements)");
        var (elementSize, type) = proto.DataType switch
        {
            Float => (4, (ElementType?)null),
            UInt8 => (1, ElementType.UInt8),
            Int8 => (1, ElementType.Int8),
            Int32 => (4, ElementType.Int32),
            Int64 => (8, null),
            Double => (8, null),
            var t => throw new InvalidFileException(path, $"tensor '{name}' has data type {t}, which is not supported (FLOAT, DOUBLE, INT8, UINT8, INT32, INT64)"),
        };
        var data = new float[count];
        if (!proto.RawData.IsEmpty)
        {
            var raw = proto.RawData.Span;
            if (raw.Length != count * elementSize)
                throw new InvalidFileException(path, $"tensor '{name}' has {raw.Length} bytes of raw data, its shape {Shape.Format(shape)} needs {count * elementSize}");
            for (int i = 0; i < data.Length; i++)
                data[i] = proto.DataType switch
                {
                    Float => BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]),
                    UInt8 => raw[i],
                    Int8 => (sbyte)raw[i],
                    Int32 => BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]),
                    Int64 => BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]),
                    _ => (float)BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]),
                };
        }
        else
        {
            // Typed fields: int8/uint8/int32 all travel in int32_data, as the ONNX spec says.
            IReadOnlyList<float> values = proto.DataType switch
            {
                Float => proto.FloatData,
                Int64 => proto.Int64Data.Select(v => (float)v).ToList(),
                Double => proto.DoubleData.Select(v => (float)v).ToList(),
                _ => proto.Int32Data.Select(v => (float)v).ToList(),
            };
            if (values.Count != count)
                throw new InvalidFileException(path, $"tensor '{name}' has {values.Count} values, its shape {Shape.Format(shape)} needs {count}");
            for (int i = 0; i < data.Length; i++) data[i] = values[i];
        }
        return (new Tensor(data, shape), type);
    }
}
