// Conversions between SafeTensorEntry and the float32 Tensor: F32 is copied, F16 and BF16 are widened
// exactly and narrowed with round-to-nearest-even, F64 is rounded to float. Integer dtypes convert
// only when the caller asks, since reading int8 weights as floats is usually a mistake.
using System.Buffers.Binary;
using Condense.Tensors;

namespace Condense.Formats;

public sealed partial record SafeTensorEntry
{
    /// <summary>
    /// A tensor of <paramref name="dtype"/> (F32, F16, BF16 or F64) holding <paramref name="tensor"/>'s
    /// values, rounded to nearest even when the dtype is narrower than float32.
    /// </summary>
    public static SafeTensorEntry FromFloat(string name, Tensor tensor, SafeTensorDType dtype = SafeTensorDType.F32)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!dtype.IsConvertibleFloat())
            throw new ArgumentException($"FromFloat writes F32, F16, BF16 or F64, not {dtype}", nameof(dtype));
        ReadOnlySpan<float> x = tensor.Data;
        int size = dtype.ByteSize();
        var bytes = new byte[x.Length * size];
        for (int i = 0; i < x.Length; i++)
        {
            var dst = bytes.AsSpan(i * size, size);
            switch (dtype)
            {
                case SafeTensorDType.F32: BinaryPrimitives.WriteSingleLittleEndian(dst, x[i]); break;
                case SafeTensorDType.F16: BinaryPrimitives.WriteHalfLittleEndian(dst, (Half)x[i]); break;
                case SafeTensorDType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(dst, ToBFloat16(x[i])); break;
                default: BinaryPrimitives.WriteDoubleLittleEndian(dst, x[i]); break;
            }
        }
        return new(name, dtype, Array.ConvertAll(tensor.Shape, d => (long)d), bytes);
    }

    /// <summary>
    /// The values as a new float32 tensor. F32, F16, BF16 and F64 always convert; BOOL and the integer
    /// dtypes only with <paramref name="allowIntegers"/> (64-bit values beyond 2^24 lose precision).
    /// </summary>
    /// <exception cref="CondenseException">The dtype does not convert, or a dimension exceeds an int.</exception>
    public Tensor ToFloatTensor(bool allowIntegers = false)
    {
        if (!DType.IsConvertibleFloat() && !(allowIntegers && DType.IsInteger()))
            throw new CondenseException(DType.IsInteger()
                ? $"tensor {Quote(Name)} has integer dtype {DType.ToCode()}; pass allowIntegers to convert it to float"
                : $"tensor {Quote(Name)} has dtype {DType.ToCode()}, which does not convert to float");
        int[] shape = ShapeAsInt32();
        // Element count fits an int: Data is a byte[] holding at least one byte per element.
        var y = new float[(int)ElementCount];
        ReadOnlySpan<byte> b = Data;
        for (int i = 0; i < y.Length; i++)
        {
            y[i] = DType switch
            {
                SafeTensorDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(b[(4 * i)..]),
                SafeTensorDType.F16 => (float)BinaryPrimitives.ReadHalfLittleEndian(b[(2 * i)..]),
                SafeTensorDType.BF16 => FromBFloat16(BinaryPrimitives.ReadUInt16LittleEndian(b[(2 * i)..])),
                SafeTensorDType.F64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(b[(8 * i)..]),
                SafeTensorDType.BOOL => b[i] != 0 ? 1f : 0f,
                SafeTensorDType.U8 => b[i],
                SafeTensorDType.I8 => (sbyte)b[i],
                SafeTensorDType.I16 => BinaryPrimitives.ReadInt16LittleEndian(b[(2 * i)..]),
                SafeTensorDType.U16 => BinaryPrimitives.ReadUInt16LittleEndian(b[(2 * i)..]),
                SafeTensorDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(b[(4 * i)..]),
                SafeTensorDType.U32 => BinaryPrimitives.ReadUInt32LittleEndian(b[(4 * i)..]),
                SafeTensorDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(b[(8 * i)..]),
                SafeTensorDType.U64 => BinaryPrimitives.ReadUInt64LittleEndian(b[(8 * i)..]),
                _ => throw new InvalidOperationException($"unhandled dtype {DType}"),
            };
        }
        return new Tensor(y, shape);
    }

    /// <summary>bfloat16 bits to float: bfloat16 is the high half of a float32, so this is exact.</summary>
    internal static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>float to bfloat16 bits, rounding to nearest even; NaN stays a (quiet) NaN.</summary>
    internal static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // Plain rounding could carry a NaN's payload into the exponent and turn it into infinity.
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        bits += 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)(bits >> 16);
    }
}
