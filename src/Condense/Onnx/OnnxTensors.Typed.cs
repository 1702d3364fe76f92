// ONNX TensorProto → a tensor of its own element type, exactly (int64 stays int64, float64 stays double).
// The checks on the stored count against the shape are the float-held reader's (OnnxTensors.Read): it runs first
// and refuses a bad tensor in one line; this reads the same bytes again in the tensor's own type.
using System.Buffers.Binary;
using Condense.Tensors;
using Onnx;

namespace Condense.Onnx;

internal static partial class OnnxTensors
{
    /// <summary>The tensor in its own element type (4-bit types: as int8/uint8 values).</summary>
    internal static Tensor ReadTyped(TensorProto proto, string path)
    {
        var (floatHeld, _) = Read(proto, path);
        if (proto.DataType is Int4 or UInt4)
            return Tensor.FromInt64s(Array.ConvertAll(floatHeld.Data, v => (long)v), proto.DataType == Int4 ? DataType.Int8 : DataType.UInt8, floatHeld.Shape);
        var type = DataTypes.FromOnnxCode(proto.DataType)!.Value;
        var shape = floatHeld.Shape;
        int n = floatHeld.Size;
        var raw = proto.RawData.Span;
        switch (type.Storage())
        {
            case TensorStorage.Single:
                // float32 is exact already; float16/bfloat16 widen to float32 exactly.
                return Tensor.FromFloats(floatHeld.Data, type, shape);
            case TensorStorage.Double:
                var doubles = new double[n];
                for (int i = 0; i < n; i++)
                    doubles[i] = raw.IsEmpty ? proto.DoubleData[i] : BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]);
                return Tensor.FromDoubles(doubles, shape);
            default:
                var longs = new long[n];
                int size = type.ByteSize();
                for (int i = 0; i < n; i++)
                    longs[i] = !raw.IsEmpty ? ReadInteger(raw[(size * i)..], type)
                        : type is DataType.Int64 ? proto.Int64Data[i]
                        : type is DataType.UInt32 or DataType.UInt64 ? (long)proto.Uint64Data[i]
                        : proto.Int32Data[i];
                return Tensor.FromInt64s(longs, type, shape);
        }
    }

    private static long ReadInteger(ReadOnlySpan<byte> at, DataType type) => type switch
    {
        DataType.Int8 => (sbyte)at[0],
        DataType.UInt8 or DataType.Bool => at[0],
        DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(at),
        DataType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(at),
        DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(at),
        DataType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(at),
        _ => BinaryPrimitives.ReadInt64LittleEndian(at),
    };
}
