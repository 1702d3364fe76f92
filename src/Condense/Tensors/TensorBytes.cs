// A tensor's values as the little-endian bytes of its element type, and back: the layout ONNX raw_data, safetensors
// and .npy share (bool one byte, float16/bfloat16 two, uint64 its two's-complement bits).
using System.Buffers.Binary;

namespace Condense.Tensors;

/// <summary>Little-endian byte images of typed tensors.</summary>
public static class TensorBytes
{
    /// <summary>The values of <paramref name="tensor"/> in its element type, little-endian, row-major.</summary>
    public static byte[] ToLittleEndian(Tensor tensor)
    {
        var type = tensor.DataType;
        int size = type.ByteSize(), n = tensor.Size;
        var bytes = new byte[n * size];
        var span = bytes.AsSpan();
        for (int i = 0; i < n; i++)
        {
            var at = span[(size * i)..];
            switch (type)
            {
                case DataType.Float32: BinaryPrimitives.WriteSingleLittleEndian(at, tensor.Data[i]); break;
                case DataType.Float16: BinaryPrimitives.WriteHalfLittleEndian(at, (Half)tensor.Data[i]); break;
                case DataType.BFloat16: BinaryPrimitives.WriteUInt16LittleEndian(at, (ushort)(BitConverter.SingleToUInt32Bits(tensor.Data[i]) >> 16)); break;
                case DataType.Float64: BinaryPrimitives.WriteDoubleLittleEndian(at, tensor.Float64Data[i]); break;
                default:
                    long v = tensor.Int64Data[i];
                    for (int b = 0; b < size; b++) at[b] = (byte)(v >> (8 * b));
                    break;
            }
        }
        return bytes;
    }

    /// <summary>A tensor of <paramref name="type"/> from its little-endian bytes (their count checked against the shape).</summary>
    public static Tensor FromLittleEndian(DataType type, ReadOnlySpan<byte> bytes, int[] shape)
    {
        int size = type.ByteSize(), n = Shape.Size(shape);
        if (bytes.Length != (long)n * size)
            throw new CondenseException($"{bytes.Length} bytes of {type.OnnxName()} data for shape {Shape.Format(shape)}, which needs {(long)n * size}");
        switch (type.Storage())
        {
            case TensorStorage.Single:
                var floats = new float[n];
                for (int i = 0; i < n; i++)
                    floats[i] = type switch
                    {
                        DataType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]),
                        DataType.Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(2 * i)..]),
                        _ => BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) << 16),
                    };
                return Tensor.FromFloats(floats, type, shape);
            case TensorStorage.Double:
                var doubles = new double[n];
                for (int i = 0; i < n; i++) doubles[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * i)..]);
                return Tensor.FromDoubles(doubles, shape);
            default:
                var longs = new long[n];
                for (int i = 0; i < n; i++)
                {
                    var at = bytes[(size * i)..];
                    longs[i] = type switch
                    {
                        DataType.Int8 => (sbyte)at[0],
                        DataType.UInt8 => at[0],
                        DataType.Bool => at[0] != 0 ? 1 : 0,
                        DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(at),
                        DataType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(at),
                        DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(at),
                        DataType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(at),
                        _ => BinaryPrimitives.ReadInt64LittleEndian(at),
                    };
                }
                return Tensor.FromInt64s(longs, type, shape);
        }
    }
}
