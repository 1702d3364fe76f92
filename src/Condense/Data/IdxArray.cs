// An array read from (or to be written to) an IDX file, the format of MNIST and Fashion-MNIST
// (http://yann.lecun.com/exdb/mnist/). The data stays as the file stores it, big-endian bytes, and is
// converted on request; ubyte data, the common case, is exposed without a copy.
using System.Buffers.Binary;
using Condense.Tensors;

namespace Condense.Data;

/// <summary>The element types of the IDX format; the value is the type byte in the magic number.</summary>
public enum IdxDataType : byte
{
    /// <summary>Unsigned byte (0x08).</summary>
    UByte = 0x08,
    /// <summary>Signed byte (0x09).</summary>
    SByte = 0x09,
    /// <summary>Big-endian int16 (0x0B).</summary>
    Short = 0x0B,
    /// <summary>Big-endian int32 (0x0C).</summary>
    Int = 0x0C,
    /// <summary>Big-endian float32 (0x0D).</summary>
    Float = 0x0D,
    /// <summary>Big-endian float64 (0x0E).</summary>
    Double = 0x0E,
}

/// <summary>An IDX array: element type, dimensions and the big-endian data bytes.</summary>
public sealed record IdxArray
{
    /// <summary>Wraps <paramref name="data"/> (big-endian, not copied), checking it fits the dimensions.</summary>
    public IdxArray(IdxDataType type, int[] dims, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(dims);
        ArgumentNullException.ThrowIfNull(data);
        if (dims.Length is < 1 or > IdxReader.MaxRank)
            throw new ArgumentException($"IDX arrays have rank 1 to {IdxReader.MaxRank}, not {dims.Length}", nameof(dims));
        long bytes = (long)Shape.Size(dims) * ElementSize(type);
        if (bytes != data.Length)
            throw new ArgumentException($"dims {Shape.Format(dims)} of {type} need {bytes} bytes, data has {data.Length}", nameof(data));
        Type = type;
        Dims = (int[])dims.Clone();
        Data = data;
    }

    /// <summary>The element type.</summary>
    public IdxDataType Type { get; }

    /// <summary>The dimensions, outermost first. Do not modify.</summary>
    public int[] Dims { get; }

    /// <summary>The data exactly as stored in the file: big-endian elements, row-major.</summary>
    public byte[] Data { get; }

    /// <summary>The number of elements.</summary>
    public int Count => Data.Length / ElementSize(Type);

    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int ElementSize(IdxDataType type) => type switch
    {
        IdxDataType.UByte or IdxDataType.SByte => 1,
        IdxDataType.Short => 2,
        IdxDataType.Int or IdxDataType.Float => 4,
        IdxDataType.Double => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not an IDX data type"),
    };

    /// <summary>An unsigned-byte array; <paramref name="data"/> is used as is.</summary>
    public static IdxArray FromBytes(byte[] data, params int[] dims) => new(IdxDataType.UByte, dims, data);

    /// <summary>A float32 array.</summary>
    public static IdxArray FromFloats(float[] data, params int[] dims)
    {
        var bytes = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleBigEndian(bytes.AsSpan(4 * i), data[i]);
        return new(IdxDataType.Float, dims, bytes);
    }

    /// <summary>An int32 array.</summary>
    public static IdxArray FromInts(int[] data, params int[] dims)
    {
        var bytes = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 * i), data[i]);
        return new(IdxDataType.Int, dims, bytes);
    }

    /// <summary>The raw bytes of an unsigned-byte array (no copy).</summary>
    public byte[] AsBytes() =>
        Type == IdxDataType.UByte ? Data : throw new InvalidOperationException($"AsBytes needs UByte data, this array is {Type}");

    /// <summary>The elements converted to float32 (double is rounded), each multiplied by <paramref name="scale"/>.</summary>
    public float[] ToFloat(float scale = 1f)
    {
        var result = new float[Count];
        var d = Data.AsSpan();
        switch (Type)
        {
            case IdxDataType.UByte: for (int i = 0; i < result.Length; i++) result[i] = d[i] * scale; break;
            case IdxDataType.SByte: for (int i = 0; i < result.Length; i++) result[i] = (sbyte)d[i] * scale; break;
            case IdxDataType.Short: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt16BigEndian(d[(2 * i)..]) * scale; break;
            case IdxDataType.Int: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt32BigEndian(d[(4 * i)..]) * scale; break;
            case IdxDataType.Float: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadSingleBigEndian(d[(4 * i)..]) * scale; break;
            case IdxDataType.Double:
                for (int i = 0; i < result.Length; i++) result[i] = (float)(BinaryPrimitives.ReadDoubleBigEndian(d[(8 * i)..]) * scale);
                break;
        }
        return result;
    }

    /// <summary>The elements of an integer array (UByte, SByte, Short or Int) as int32.</summary>
    public int[] ToInt()
    {
        var result = new int[Count];
        var d = Data.AsSpan();
        switch (Type)
        {
            case IdxDataType.UByte: for (int i = 0; i < result.Length; i++) result[i] = d[i]; break;
            case IdxDataType.SByte: for (int i = 0; i < result.Length; i++) result[i] = (sbyte)d[i]; break;
            case IdxDataType.Short: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt16BigEndian(d[(2 * i)..]); break;
            case IdxDataType.Int: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt32BigEndian(d[(4 * i)..]); break;
            default: throw new InvalidOperationException($"ToInt needs integer data, this array is {Type}");
        }
        return result;
    }
}
