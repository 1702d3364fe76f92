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
    /// <summary>'&lt;f2'.</summary>
    Float16,
    /// <summary>'|i1'.</summary>
    Int8,
    /// <summary>'&lt;i2'.</summary>
    Int16,
    /// <summary>'&lt;u2'.</summary>
    UInt16,
    /// <summary>'&lt;u4'.</summary>
    UInt32,
    /// <summary>'&lt;u8'.</summary>
    UInt64,
    /// <summary>'|b1'.</summary>
    Bool,
}

/// <summary>A .npy array: element type, shape (C order) and the little-endian data bytes.</summary>
public sealed partial record NpyArray
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
        NpyDtype.UInt8 or NpyDtype.Int8 or NpyDtype.Bool => 1,
        NpyDtype.Float16 or NpyDtype.Int16 or NpyDtype.UInt16 => 2,
        NpyDtype.Float32 or NpyDtype.Int32 or NpyDtype.UInt32 => 4,
        NpyDtype.Float64 or NpyDtype.Int64 or NpyDtype.UInt64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a supported dtype"),
    };

    /// <summary>The elements converted to float32 (float64 and 64-bit integers are rounded).</summary>
    public float[] ToFloat()
    {
        var tensor = ToTensor();
        return tensor.DataType == DataType.Float32 ? tensor.Data : TypedOps.Cast(tensor, DataType.Float32).Data;
    }

    /// <summary>
    /// The elements of an integer or bool array as int32. Throws <see cref="OverflowException"/> when a value does
    /// not fit, <see cref="InvalidOperationException"/> for float data.
    /// </summary>
    public int[] ToInt()
    {
        var tensor = ToTensor();
        if (tensor.DataType.IsFloat()) throw new InvalidOperationException($"ToInt needs integer data, this array is {Dtype}");
        var values = tensor.Int64Data;
        var result = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            long v = tensor.DataType == DataType.UInt64 && values[i] < 0 ? long.MaxValue : values[i];
            result[i] = v is >= int.MinValue and <= int.MaxValue ? (int)v
                : throw new OverflowException($"element {i} ({(tensor.DataType == DataType.UInt64 ? (ulong)values[i] : v)}) does not fit in an int32");
        }
        return result;
    }
}
