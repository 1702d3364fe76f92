// The element types of the Hugging Face safetensors format (https://github.com/huggingface/safetensors)
// and their on-disk names and sizes. Only whole-byte types are listed; the sub-byte float types
// (F4, F6_*) are read as unknown dtypes. Conversions to float live in SafeTensorEntry.
namespace Condense.Formats;

/// <summary>An element type of a safetensors tensor. Member names are the format's dtype strings.</summary>
public enum SafeTensorDType
{
    /// <summary>Boolean, one byte (0 or 1).</summary>
    BOOL,
    /// <summary>Unsigned 8-bit integer; also holds packed int4 pairs.</summary>
    U8,
    /// <summary>Signed 8-bit integer.</summary>
    I8,
    /// <summary>8-bit float, 4 exponent and 3 mantissa bits (stored as raw bytes only).</summary>
    F8_E4M3,
    /// <summary>8-bit float, 5 exponent and 2 mantissa bits (stored as raw bytes only).</summary>
    F8_E5M2,
    /// <summary>Signed 16-bit integer.</summary>
    I16,
    /// <summary>Unsigned 16-bit integer.</summary>
    U16,
    /// <summary>IEEE 754 half precision.</summary>
    F16,
    /// <summary>bfloat16: the top 16 bits of a float32.</summary>
    BF16,
    /// <summary>Signed 32-bit integer.</summary>
    I32,
    /// <summary>Unsigned 32-bit integer.</summary>
    U32,
    /// <summary>IEEE 754 single precision.</summary>
    F32,
    /// <summary>Signed 64-bit integer.</summary>
    I64,
    /// <summary>Unsigned 64-bit integer.</summary>
    U64,
    /// <summary>IEEE 754 double precision.</summary>
    F64,
}

/// <summary>Sizes and names of <see cref="SafeTensorDType"/> values.</summary>
public static class SafeTensorDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ByteSize(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.BOOL or SafeTensorDType.U8 or SafeTensorDType.I8
            or SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2 => 1,
        SafeTensorDType.I16 or SafeTensorDType.U16 or SafeTensorDType.F16 or SafeTensorDType.BF16 => 2,
        SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.F32 => 4,
        SafeTensorDType.I64 or SafeTensorDType.U64 or SafeTensorDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>True for the float types that convert to float32 (F16, BF16, F32, F64).</summary>
    public static bool IsConvertibleFloat(this SafeTensorDType dtype) =>
        dtype is SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F32 or SafeTensorDType.F64;

    /// <summary>True for BOOL and the signed and unsigned integer types.</summary>
    public static bool IsInteger(this SafeTensorDType dtype) =>
        dtype is SafeTensorDType.BOOL or SafeTensorDType.U8 or SafeTensorDType.I8 or SafeTensorDType.I16
            or SafeTensorDType.U16 or SafeTensorDType.I32 or SafeTensorDType.U32 or SafeTensorDType.I64 or SafeTensorDType.U64;

    /// <summary>The dtype string written in the header, e.g. <c>"F32"</c>.</summary>
    public static string ToCode(this SafeTensorDType dtype) =>
        Enum.IsDefined(dtype) ? dtype.ToString() : throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);

    /// <summary>Parses a header dtype string; exact and case-sensitive, as the format requires.</summary>
    public static bool TryParse(string code, out SafeTensorDType dtype)
    {
        // A switch rather than Enum.TryParse, which would also accept "f32", "11" and " F32".
        SafeTensorDType? parsed = code switch
        {
            "BOOL" => SafeTensorDType.BOOL, "U8" => SafeTensorDType.U8, "I8" => SafeTensorDType.I8,
            "F8_E4M3" => SafeTensorDType.F8_E4M3, "F8_E5M2" => SafeTensorDType.F8_E5M2,
            "I16" => SafeTensorDType.I16, "U16" => SafeTensorDType.U16,
            "F16" => SafeTensorDType.F16, "BF16" => SafeTensorDType.BF16,
            "I32" => SafeTensorDType.I32, "U32" => SafeTensorDType.U32, "F32" => SafeTensorDType.F32,
            "I64" => SafeTensorDType.I64, "U64" => SafeTensorDType.U64, "F64" => SafeTensorDType.F64,
            _ => null,
        };
        dtype = parsed.GetValueOrDefault();
        return parsed.HasValue;
    }

    /// <summary>
    /// Bytes a tensor of this shape and dtype occupies, or -1 when a dimension is negative or the
    /// count overflows a long. Checked arithmetic, because the shape may come from an untrusted header.
    /// </summary>
    public static long ByteLength(this SafeTensorDType dtype, ReadOnlySpan<long> shape)
    {
        long n = dtype.ByteSize();
        try
        {
            foreach (long d in shape)
            {
                if (d < 0) return -1;
                n = checked(n * d);
            }
        }
        catch (OverflowException) { return -1; }
        return n;
    }
}
