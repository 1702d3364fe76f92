// One named tensor of a safetensors file: dtype, shape and the raw little-endian bytes, exactly as
// stored. Typed views for the integer types quantization uses are here; float conversion is in
// SafeTensorEntry.Float.cs. SafeTensors.Read produces these and SafeTensors.Write consumes them.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Condense.Tensors;

namespace Condense.Formats;

/// <summary>A named tensor in safetensors form: raw little-endian bytes in row-major (C) order.</summary>
/// <param name="Name">The tensor's key in the file; must not be <c>__metadata__</c>.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions; empty for a scalar.</param>
/// <param name="Data">The elements, little-endian. Shared, not copied.</param>
/// <remarks>Equality compares <see cref="Shape"/> and <see cref="Data"/> by reference, as records do with arrays.</remarks>
public sealed partial record SafeTensorEntry(string Name, SafeTensorDType DType, long[] Shape, byte[] Data)
{
    /// <summary>The elements, little-endian. Shared, not copied. Its length always matches the shape.</summary>
    // Checked here so that every entry, however it was made, can be written without surprises.
    public byte[] Data { get; init; } = Check(Name, DType, Shape, Data);

    /// <summary>The number of elements (1 for a scalar).</summary>
    public long ElementCount => Data.Length / DType.ByteSize();

    /// <summary>Wraps <paramref name="data"/> (not copied) after checking its length fits the shape.</summary>
    public static SafeTensorEntry FromBytes(string name, SafeTensorDType dtype, long[] shape, byte[] data) =>
        new(name, dtype, (long[])shape.Clone(), data);

    /// <summary>An I8 tensor holding a copy of <paramref name="values"/>.</summary>
    public static SafeTensorEntry FromInt8(string name, sbyte[] values, params long[] shape) =>
        new(name, SafeTensorDType.I8, (long[])shape.Clone(), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    /// <summary>A U8 tensor holding a copy of <paramref name="values"/> (also used for packed int4).</summary>
    public static SafeTensorEntry FromUInt8(string name, byte[] values, params long[] shape) =>
        new(name, SafeTensorDType.U8, (long[])shape.Clone(), (byte[])values.Clone());

    /// <summary>An I32 tensor holding a copy of <paramref name="values"/>.</summary>
    public static SafeTensorEntry FromInt32(string name, int[] values, params long[] shape) =>
        new(name, SafeTensorDType.I32, (long[])shape.Clone(), ToLittleEndianBytes<int>(values));

    /// <summary>An I64 tensor holding a copy of <paramref name="values"/>.</summary>
    public static SafeTensorEntry FromInt64(string name, long[] values, params long[] shape) =>
        new(name, SafeTensorDType.I64, (long[])shape.Clone(), ToLittleEndianBytes<long>(values));

    /// <summary>The elements of an I8 tensor, copied.</summary>
    public sbyte[] ToInt8Array() => Expect(SafeTensorDType.I8).FromLittleEndianBytes<sbyte>();

    /// <summary>The elements of a U8 tensor, copied.</summary>
    public byte[] ToUInt8Array() => (byte[])Expect(SafeTensorDType.U8).Data.Clone();

    /// <summary>The elements of an I32 tensor, copied.</summary>
    public int[] ToInt32Array() => Expect(SafeTensorDType.I32).FromLittleEndianBytes<int>();

    /// <summary>The elements of an I64 tensor, copied.</summary>
    public long[] ToInt64Array() => Expect(SafeTensorDType.I64).FromLittleEndianBytes<long>();

    /// <summary>The shape as <c>int[]</c>, as <see cref="Tensor"/> uses.</summary>
    public int[] ShapeAsInt32()
    {
        var shape = new int[Shape.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            if (Shape[i] > int.MaxValue)
                throw new CondenseException($"tensor {Quote(Name)} has dimension {Shape[i]}, larger than an int");
            shape[i] = (int)Shape[i];
        }
        return shape;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {DType} [{string.Join(", ", Shape)}]";

    private SafeTensorEntry Expect(SafeTensorDType dtype) => DType == dtype ? this
        : throw new CondenseException($"tensor {Quote(Name)} has dtype {DType.ToCode()}, not {dtype.ToCode()}");

    private T[] FromLittleEndianBytes<T>() where T : unmanaged
    {
        var values = MemoryMarshal.Cast<byte, T>(Data).ToArray();
        if (!BitConverter.IsLittleEndian) ReverseEndianness(values);
        return values;
    }

    private static byte[] ToLittleEndianBytes<T>(T[] values) where T : unmanaged
    {
        var copy = (T[])values.Clone();
        if (!BitConverter.IsLittleEndian) ReverseEndianness(copy);
        return MemoryMarshal.AsBytes(copy.AsSpan()).ToArray();
    }

    private static void ReverseEndianness<T>(T[] values) where T : unmanaged
    {
        switch (values)
        {
            case short[] s: BinaryPrimitives.ReverseEndianness(s, s); break;
            case int[] i: BinaryPrimitives.ReverseEndianness(i, i); break;
            case long[] l: BinaryPrimitives.ReverseEndianness(l, l); break;
            case ushort[] us: BinaryPrimitives.ReverseEndianness(us, us); break;
            case uint[] ui: BinaryPrimitives.ReverseEndianness(ui, ui); break;
            case ulong[] ul: BinaryPrimitives.ReverseEndianness(ul, ul); break;
            case sbyte[] or byte[]: break;
            default: throw new NotSupportedException(typeof(T).Name);
        }
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless the data length fits name, dtype and shape.</summary>
    internal static byte[] Check(string name, SafeTensorDType dtype, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (!Enum.IsDefined(dtype)) throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);
        if (name == SafeTensors.MetadataKey)
            throw new ArgumentException($"{SafeTensors.MetadataKey} is reserved for the metadata and cannot name a tensor");
        long bytes = dtype.ByteLength(shape);
        if (bytes < 0)
            throw new ArgumentException($"tensor {Quote(name)}: shape [{string.Join(", ", shape)}] has a negative or overflowing dimension");
        if (bytes != data.Length)
            throw new ArgumentException(
                $"tensor {Quote(name)}: shape [{string.Join(", ", shape)}] of {dtype.ToCode()} needs {bytes} bytes, data has {data.Length}");
        return data;
    }

    /// <summary>Quotes a tensor name for a one-line message: control characters are escaped.</summary>
    internal static string Quote(string name)
    {
        const int max = 80; // a hostile header may hold a megabyte-long name
        var sb = new System.Text.StringBuilder("'");
        foreach (char c in name.Length > max ? name[..max] : name)
            sb.Append(char.IsControl(c) || c is '\u2028' or '\u2029' ? $"\\u{(int)c:x4}" : c.ToString());
        if (name.Length > max) sb.Append("...");
        return sb.Append('\'').ToString();
    }
}
