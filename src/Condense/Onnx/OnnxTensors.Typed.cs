// ONNX TensorProto → a tensor of its own element type, exactly (int64 stays int64, float64 stays double): raw_data
// through Tensors/TensorBytes, the typed fields (int32_data for the small types, int64_data, uint64_data) here.
// The checks on the stored count against the shape are the float-held reader's (OnnxTensors.Read): it runs first
// and refuses a bad tensor in one line; this reads the same bytes again in the tensor's own type.
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
        if (!proto.RawData.IsEmpty) return TensorBytes.FromLittleEndian(type, proto.RawData.Span, shape);
        int n = floatHeld.Size;
        switch (type.Storage())
        {
            case TensorStorage.Single:
                // float32 is exact already; float16/bfloat16 widen to float32 exactly.
                return Tensor.FromFloats(floatHeld.Data, type, shape);
            case TensorStorage.Double:
                var doubles = new double[n];
                for (int i = 0; i < n; i++)
                    doubles[i] = proto.DoubleData[i];
                return Tensor.FromDoubles(doubles, shape);
            default:
                var longs = new long[n];
                for (int i = 0; i < n; i++)
                    longs[i] = type is DataType.Int64 ? proto.Int64Data[i]
                        : type is DataType.UInt32 or DataType.UInt64 ? (long)proto.Uint64Data[i]
                        : proto.Int32Data[i];
                return Tensor.FromInt64s(longs, type, shape);
        }
    }
}
