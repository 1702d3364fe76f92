// 4-bit embedding tables: each run of `block` columns of a row shares one symmetric scale (s = max|w| / 7, values
// v = round_half_even(w / s) in [−7, 7]), and the values are packed two to a byte of a uint8 [rows, dim / 2] table as
// v + 8, the even column in the low nibble (the order ONNX gives int4 tensors). ONNX has no 4-bit Gather, and int4
// initializers only feed DequantizeLinear, which would dequantize the whole table on every run; a uint8 table is
// gathered row by row and unpacked by BitwiseAnd / BitShift (EmbeddingQuantizer builds that graph).
using Condense.Kernels.Int8Gemm;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>Quantization, packing and unpacking of 4-bit embedding tables.</summary>
public static class Int4Embeddings
{
    /// <summary>What a stored nibble adds to the value it holds: v ∈ [−8, 7] is stored as v + 8 ∈ [0, 15].</summary>
    public const int Offset = 8;

    /// <summary>The block a table of <paramref name="width"/> columns uses: <paramref name="blockSize"/> if it divides the width, else the width.</summary>
    public static int BlockFor(int width, int blockSize) => blockSize > 0 && width % blockSize == 0 ? blockSize : width;

    /// <summary>
    /// The packed uint8 table [rows, dim / 2] and the scales [rows, dim / block] of a float table [rows, dim] (dim even),
    /// block = <see cref="BlockFor"/>(dim, <paramref name="blockSize"/>).
    /// </summary>
    public static (Tensor Packed, Tensor Scales) Quantize(Tensor table, int blockSize)
    {
        ArgumentNullException.ThrowIfNull(table);
        if (table.Rank != 2 || table.Shape[1] % 2 != 0)
            throw new CondenseException($"a 4-bit embedding table needs [rows, even width], got {Shape.Format(table.Shape)}");
        var (integers, scales) = BlockwiseQuantizer.Quantize(table, BlockFor(table.Shape[1], blockSize), QuantRange.Restricted(4));
        return (Pack(integers), scales);
    }

    /// <summary>A table of integers in [−8, 7], [rows, dim] with dim even, packed into uint8 [rows, dim / 2].</summary>
    public static Tensor Pack(Tensor integers)
    {
        ArgumentNullException.ThrowIfNull(integers);
        if (integers.Rank != 2 || integers.Shape[1] % 2 != 0)
            throw new CondenseException($"packing 4-bit values needs [rows, even width], got {Shape.Format(integers.Shape)}");
        var stored = new int[integers.Size];
        for (int i = 0; i < stored.Length; i++)
        {
            float v = integers.Data[i];
            if (v != MathF.Round(v) || v < -Offset || v > Offset - 1) throw new CondenseException($"{v} is not a 4-bit integer in [-8, 7]");
            stored[i] = (int)v + Offset;
        }
        // Rows of even width end on a byte boundary, so the whole table packs as one stream, row after row.
        var bytes = BitPacking.Pack(stored, 4);
        return Tensor.FromInt64s([.. bytes.Select(b => (long)b)], DataType.UInt8, integers.Shape[0], integers.Shape[1] / 2);
    }

    /// <summary>The integers [rows, dim] of a packed uint8 table [rows, dim / 2] (float, as the quantized-graph form holds them).</summary>
    public static Tensor Unpack(Tensor packed)
    {
        ArgumentNullException.ThrowIfNull(packed);
        if (packed.Rank != 2 || packed.DataType != DataType.UInt8)
            throw new CondenseException($"a packed 4-bit table is uint8 [rows, dim / 2], got {packed.DataType.OnnxName()} {Shape.Format(packed.Shape)}");
        var values = BitPacking.Unpack([.. packed.Int64Data.Select(b => (byte)b)], 4, packed.Size * 2);
        return new Tensor([.. values.Select(v => (float)(v - Offset))], packed.Shape[0], packed.Shape[1] * 2);
    }

    /// <summary>The float table a packed table and its block scales [rows, blocks] stand for: value × its block's scale.</summary>
    public static Tensor Dequantize(Tensor packed, Tensor scales)
    {
        ArgumentNullException.ThrowIfNull(scales);
        var integers = Unpack(packed);
        int rows = integers.Shape[0], width = integers.Shape[1];
        if (scales.Rank != 2 || scales.Shape[0] != rows || scales.Shape[1] < 1 || width % scales.Shape[1] != 0)
            throw new CondenseException($"scales {Shape.Format(scales.Shape)} do not block a table of {rows} rows × {width} columns");
        int block = width / scales.Shape[1];
        var data = new float[integers.Size];
        for (int i = 0; i < data.Length; i++) data[i] = integers.Data[i] * scales.Data[i / width * scales.Shape[1] + i % width / block];
        return new Tensor(data, rows, width);
    }
}
