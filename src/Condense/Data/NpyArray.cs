// An array read from (or written to) a NumPy .npy file. The data stays as the file stores it,
// little-endian C-order bytes, and is converted on request.
using System.Buffers.Binary;
using Condense.Tensors;

namespace Condense.Data;

/// <summary>The .npy element types Condense reads and writes.</summary>
public enum NpyDtype
{
    /// <summary>'&lt;f4'.</summary>
    Float32,
    /// <summary>'&lt;f8'.</summary>
    Float64,
    /// <summary>'|u1'.</summary>
    UInt8,
    /// <summary>'&lt;i8'.</summary>
    Int64,
    /// <summary>'&lt;i4'.</summary>
    Int32,
}

/// <summary>A .npy array: element type, shape (C order) and the little-endian data bytes.</summary>
public sealed record NpyArray
{
    /// <summary>Wraps <paramref name="data"/> (little-endian, not copied), checking it fits the shape.</summary>
    public NpyArray(NpyDtype dtype, int[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long bytes = (long)Tensors.Shape.Size(shape) * ElementSize(dtype);
        if (bytes != data.Length)
            throw new ArgumentException($"shape {Tensors.Shape.Format(shape)} of {dtype} needs {bytes} bytes, data has {data.Length}", nameof(data));
        Dtype = dtype;
        Shape = (int[])shape.Clone();
        Data = data;
    }

    /// <summary>The element type.</summary>
    public NpyDtype Dtype { get; }

    /// <summary>The dimensions, outermost first (empty for a scalar). Do not modify.</summary>
    public int[] Shape { get; }

    /// <summary>The data as stored: little-endian elements in C (row-major) order.</summary>
    public byte[] Data { get; }

    /// <summary>The number of elements.</summary>
    public int Count => Data.Length / ElementSize(Dtype);

    /// <summary>Bytes per element of <paramref name="dtype"/>.</summary>
    public static int ElementSize(NpyDtype dtype) => dtype switch
    {
        NpyDtype.UInt8 => 1,
        NpyDtype.Float32 or NpyDtype.Int32 => 4,
        NpyDtype.Float64 or NpyDtype.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a supported dtype"),
    };

    /// <summary>The elements converted to float32 (float64 and int64 are rounded).</summary>
    public float[] ToFloat()
    {
        var result = new float[Count];
        var d = Data.AsSpan();
        switch (Dtype)
        {
            case NpyDtype.Float32: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadSingleLittleEndian(d[(4 * i)..]); break;
            case NpyDtype.Float64: for (int i = 0; i < result.Length; i++) result[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(d[(8 * i)..]); break;
            case NpyDtype.UInt8: for (int i = 0; i < result.Length; i++) result[i] = d[i]; break;
            case NpyDtype.Int64: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt64LittleEndian(d[(8 * i)..]); break;
            case NpyDtype.Int32: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt32LittleEndian(d[(4 * i)..]); break;
        }
        return result;
    }

    /// <summary>
    /// The elements of an integer array (UInt8, Int32 or Int64) as int32. Throws
    /// <see cref="OverflowException"/> when an int64 value does not fit.
    /// </summary>
    public int[] ToInt()
    {
        var result = new int[Count];
        var d = Data.AsSpan();
        switch (Dtype)
        {
            case NpyDtype.UInt8: for (int i = 0; i < result.Length; i++) result[i] = d[i]; break;
            case NpyDtype.Int32: for (int i = 0; i < result.Length; i++) result[i] = BinaryPrimitives.ReadInt32LittleEndian(d[(4 * i)..]); break;
            case NpyDtype.Int64:
                for (int i = 0; i < result.Length; i++)
                {
                    long v = BinaryPrimitives.ReadInt64LittleEndian(d[(8 * i)..]);
                    result[i] = v is >= int.MinValue and <= int.MaxValue ? (int)v
                        : throw new OverflowException($"element {i} ({v}) does not fit in an int32");
                }
                break;
            default: throw new InvalidOperationException($"ToInt needs integer data, this array is {Dtype}");
        }
        return result;
    }
}
