// .npy arrays as tensors of their own element type and back: every dtype NPY holds that ONNX has (float16/32/64,
// int8–64, uint8–64, bool). bfloat16 has no NumPy dtype: a bfloat16 tensor is written as float32, which holds it exactly.
using System.Buffers.Binary;
using Condense.Tensors;

namespace Condense.Data;

public sealed partial record NpyArray
{
    /// <summary>The array as a tensor of the same element type and shape.</summary>
    public Tensor ToTensor()
    {
        var d = Data.AsSpan();
        int n = Count;
        switch (Dtype)
        {
            case NpyDtype.Float32:
            case NpyDtype.Float16:
                var floats = new float[n];
                for (int i = 0; i < n; i++)
                    floats[i] = Dtype == NpyDtype.Float32 ? BinaryPrimitives.ReadSingleLittleEndian(d[(4 * i)..])
                        : (float)BinaryPrimitives.ReadHalfLittleEndian(d[(2 * i)..]);
                return Tensor.FromFloats(floats, Dtype == NpyDtype.Float32 ? DataType.Float32 : DataType.Float16, Shape);
            case NpyDtype.Float64:
                var doubles = new double[n];
                for (int i = 0; i < n; i++) doubles[i] = BinaryPrimitives.ReadDoubleLittleEndian(d[(8 * i)..]);
                return Tensor.FromDoubles(doubles, Shape);
            default:
                var type = TypeOf(Dtype);
                int size = ElementSize(Dtype);
                var longs = new long[n];
                for (int i = 0; i < n; i++)
                {
                    var at = d[(size * i)..];
                    longs[i] = Dtype switch
                    {
                        NpyDtype.Int8 => (sbyte)at[0],
                        NpyDtype.UInt8 => at[0],
                        NpyDtype.Bool => at[0] != 0 ? 1 : 0,
                        NpyDtype.Int16 => BinaryPrimitives.ReadInt16LittleEndian(at),
                        NpyDtype.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(at),
                        NpyDtype.Int32 => BinaryPrimitives.ReadInt32LittleEndian(at),
                        NpyDtype.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(at),
                        _ => BinaryPrimitives.ReadInt64LittleEndian(at),
                    };
                }
                return Tensor.FromInt64s(longs, type, Shape);
        }
    }

    /// <summary>The tensor as an array of its element type (bfloat16 as float32).</summary>
    public static NpyArray FromTensor(Tensor tensor)
    {
        var type = tensor.DataType == DataType.BFloat16 ? DataType.Float32 : tensor.DataType;
        var dtype = DtypeOf(type);
        int size = ElementSize(dtype), n = tensor.Size;
        var bytes = new byte[n * size];
        var span = bytes.AsSpan();
        for (int i = 0; i < n; i++)
        {
            var at = span[(size * i)..];
            switch (type)
            {
                case DataType.Float32: BinaryPrimitives.WriteSingleLittleEndian(at, tensor.Data[i]); break;
                case DataType.Float16: BinaryPrimitives.WriteHalfLittleEndian(at, (Half)tensor.Data[i]); break;
                case DataType.Float64: BinaryPrimitives.WriteDoubleLittleEndian(at, tensor.Float64Data[i]); break;
                default:
                    long v = tensor.Int64Data[i];
                    for (int b = 0; b < size; b++) at[b] = (byte)(v >> (8 * b));
                    break;
            }
        }
        return new NpyArray(dtype, tensor.Shape, bytes);
    }

    private static DataType TypeOf(NpyDtype dtype) => dtype switch
    {
        NpyDtype.Float32 => DataType.Float32, NpyDtype.Float64 => DataType.Float64, NpyDtype.Float16 => DataType.Float16,
        NpyDtype.Int8 => DataType.Int8, NpyDtype.Int16 => DataType.Int16, NpyDtype.Int32 => DataType.Int32, NpyDtype.Int64 => DataType.Int64,
        NpyDtype.UInt8 => DataType.UInt8, NpyDtype.UInt16 => DataType.UInt16, NpyDtype.UInt32 => DataType.UInt32,
        NpyDtype.UInt64 => DataType.UInt64, _ => DataType.Bool,
    };

    private static NpyDtype DtypeOf(DataType type) => type switch
    {
        DataType.Float32 => NpyDtype.Float32, DataType.Float64 => NpyDtype.Float64, DataType.Float16 => NpyDtype.Float16,
        DataType.Int8 => NpyDtype.Int8, DataType.Int16 => NpyDtype.Int16, DataType.Int32 => NpyDtype.Int32, DataType.Int64 => NpyDtype.Int64,
        DataType.UInt8 => NpyDtype.UInt8, DataType.UInt16 => NpyDtype.UInt16, DataType.UInt32 => NpyDtype.UInt32,
        DataType.UInt64 => NpyDtype.UInt64, _ => NpyDtype.Bool,
    };
}
