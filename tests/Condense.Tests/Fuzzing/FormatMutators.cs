// Format-aware mutations, one set per reader: they corrupt the fields a reader trusts for sizes and
// types (safetensors' header length, offsets, dtypes and shapes; ONNX's protobuf varints and length
// prefixes, which hold dims, data_type and raw_data lengths; IDX magic and dims; NPY version, header
// length and dict; CSV numbers and separators; image width and height fields; odd UTF-8 in text and vocabularies;
// non-numbers in JSON), where random byte flips would rarely land.
using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Condense.Fuzzing;

/// <summary>Mutators that know a file format's layout.</summary>
public static class FormatMutators
{
    // Declared first: static fields initialise in order, and the mutator arrays below use these.
    private static readonly string[] DTypes = ["F32", "U8", "I8", "I32", "U16", "F16", "BF16", "F64", "I64", "BOOL"];
    private static readonly string[] Storage = ["bitmap", "csr", "codebook", "bitmap_codebook"];
    private static readonly string[] Ops = ["Gemm", "Relu", "Flatten", "MatMul", "Add", "Conv", "QuantizeLinear", "DequantizeLinear"];
    private static readonly string[] NpyDescrs = ["<f4", "<f8", "|u1", "<i8", "<i4"];
    private static readonly string[] JsonTokens = ["NaN", "-Infinity", "1e999", "-0", "null", "\"x\"", "[]", "{}", "true", "[[[[", "0.5e-400", "-1"];
    private static readonly byte[][] OddText =
    [
        [0xC3], [0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x00], [0xEF, 0xBB, 0xBF], "\r"u8.ToArray(),
        "\U0001F600\u0301\u0301\u0301"u8.ToArray(), "\u202E\u200B\u00AD"u8.ToArray(), "[CLS][SEP][PAD]"u8.ToArray(), "##"u8.ToArray(),
    ];
    private static readonly string[] CsvTokens =
        ["nan", "inf", "-1", "1e999", "2147483648", "0x10", "", "1,2", "\"3\"", "99999999999999999999999", "1.5", "-0", "\n"];

    /// <summary>safetensors: the 8-byte header length, numbers, dtypes, storage formats and op names in the JSON header.</summary>
    public static readonly Mutator[] SafeTensors =
    [
        (rng, d) => WithU64(d, 0, (ulong)Mutators.PickNumber(rng)),
        (rng, d) => InSafeTensorsHeader(rng, d, (h, s, e) => Mutators.ReplaceNumber(rng, h, s, e, Mutators.PickNumber(rng).ToString())),
        (rng, d) => InSafeTensorsHeader(rng, d, (h, s, e) => Mutators.ReplaceWord(rng, h, s, e, DTypes, [.. DTypes, "X", "F4", "f32"])),
        (rng, d) => InSafeTensorsHeader(rng, d, (h, s, e) => Mutators.ReplaceWord(rng, h, s, e, Storage, [.. Storage, "dense"])),
        (rng, d) => InSafeTensorsHeader(rng, d, (h, s, e) => Mutators.ReplaceWord(rng, h, s, e, Ops, [.. Ops, "Reshape", "MaxPool", "Softmax", "Pad"])),
    ];

    /// <summary>ONNX: protobuf varints (dims, data_type, attribute values) and length prefixes (raw_data, nested messages).</summary>
    public static readonly Mutator[] Onnx = [ProtobufVarint, ProtobufVarint, ProtobufLength];

    /// <summary>IDX: the type and rank bytes of the magic, a dimension, and gzip (so the gzip path is fuzzed too).</summary>
    public static readonly Mutator[] Idx =
    [
        (rng, d) => WithByte(d, 2, rng.Next(3) == 0 ? (byte)rng.Next(256) : (byte)(0x08 + rng.Next(7))),
        (rng, d) => WithByte(d, 3, rng.Next(4) == 0 ? (byte)rng.Next(256) : (byte)rng.Next(6)),
        (rng, d) => d.Length < 8 ? d : WithI32BigEndian(d, 4 + 4 * rng.Next(Math.Min(4, (d.Length - 4) / 4)), (int)Mutators.PickNumber(rng)),
        (rng, d) => Gzip(d),
        (rng, d) => Mutators.Truncate(rng, Gzip(d)),
    ];

    /// <summary>NPY: the version byte, the header length, numbers, dtype strings and the fortran flag in the header dict.</summary>
    public static readonly Mutator[] Npy =
    [
        (rng, d) => WithByte(d, 6, (byte)rng.Next(5)),
        (rng, d) => d.Length < 10 ? d : WithU16(d, 8, (ushort)Mutators.PickNumber(rng)),
        (rng, d) => InNpyHeader(rng, d, (h, s, e) => Mutators.ReplaceNumber(rng, h, s, e, Mutators.PickNumber(rng).ToString())),
        (rng, d) => InNpyHeader(rng, d, (h, s, e) => Mutators.ReplaceWord(rng, h, s, e, NpyDescrs, [.. NpyDescrs, "<f2", ">f4", "|b1", "<U8", "|O", "<c8"])),
        (rng, d) => InNpyHeader(rng, d, (h, s, e) =>
            Mutators.ReplaceWord(rng, h, s, e, ["False", "shape", "descr", "(", ")"], ["True", "Fals", "1", "shapes", "", "(("])),
    ];

    /// <summary>CSV: numbers turned into odd tokens, separators and line breaks added or removed.</summary>
    public static readonly Mutator[] Csv =
    [
        (rng, d) => Mutators.ReplaceNumber(rng, d, 0, d.Length, CsvTokens[rng.Next(CsvTokens.Length)])?.Data ?? d,
        (rng, d) => Mutators.ReplaceWord(rng, d, 0, d.Length, [",", "\n"], ["", ",,", "\n", "\r\n", ";", "\n\n", ",\n"])?.Data ?? d,
        (rng, d) => Mutators.Splice(d, rng.Next(d.Length + 1), 0, "\uFEFFlabel,x\n\0\u00ff"u8.ToArray()),
    ];

    /// <summary>Images: the width and height fields of PNG, BMP, GIF and JPEG headers, and PNG chunk lengths.</summary>
    public static readonly Mutator[] Image = [ImageDimension, ImageDimension, PngChunkLength];

    /// <summary>Text: invalid or unusual UTF-8 (stray continuation bytes, overlong forms, surrogates, NUL, BOM, emoji, RTL marks).</summary>
    public static readonly Mutator[] Text =
    [
        (rng, d) => Mutators.Splice(d, rng.Next(d.Length + 1), 0, OddText[rng.Next(OddText.Length)]),
        (rng, d) => Mutators.Splice(d, rng.Next(d.Length + 1), 0, System.Text.Encoding.UTF8.GetBytes(new string('x', rng.Next(50, 5000)))),
        (rng, d) => Mutators.ReplaceWord(rng, d, 0, d.Length, ["\n", " ", "."], ["", "\r", "\n\n", "\t", "\u00a0"])?.Data ?? d,
    ];

    /// <summary>WordPiece vocabularies: lines removed (special tokens too), doubled, blanked, or given odd text.</summary>
    public static readonly Mutator[] Vocabulary =
    [
        (rng, d) => Mutators.ReplaceWord(rng, d, 0, d.Length, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "##"], ["", "[pad]", "##", "[UNK]"])?.Data ?? d,
        (rng, d) => Mutators.ReplaceWord(rng, d, 0, d.Length, ["\n"], ["", "\n\n", "\n \n", "\n##\n", "\nthe\n", "\r\r\n"])?.Data ?? d,
        .. Text,
    ];

    /// <summary>JSON reports: numbers set to extremes or non-numbers, and values replaced by other JSON kinds.</summary>
    public static readonly Mutator[] Json =
    [
        (rng, d) => Mutators.ReplaceNumber(rng, d, 0, d.Length, Mutators.PickNumber(rng).ToString())?.Data ?? d,
        (rng, d) => Mutators.ReplaceNumber(rng, d, 0, d.Length, JsonTokens[rng.Next(JsonTokens.Length)])?.Data ?? d,
        (rng, d) => Mutators.ReplaceWord(rng, d, 0, d.Length, ["[", "]", "{", "}", ",", "\"", ":", "null"], JsonTokens)?.Data ?? d,
    ];

    private delegate (byte[] Data, int Delta)? TextEdit(byte[] data, int start, int end);

    // Sets a dimension field of the image header the file starts with to an extreme or small number.
    private static byte[] ImageDimension(Random rng, byte[] d)
    {
        int value = (int)Mutators.PickNumber(rng);
        if (d.Length > 24 && d[0] == 0x89 && d[1] == (byte)'P') return WithI32BigEndian(d, 16 + 4 * rng.Next(2), value);
        if (d.Length > 26 && d[0] == (byte)'B' && d[1] == (byte)'M')
        {
            var c = (byte[])d.Clone();
            BinaryPrimitives.WriteInt32LittleEndian(c.AsSpan(18 + 4 * rng.Next(2)), value);
            return c;
        }
        if (d.Length > 10 && d[0] == (byte)'G' && d[1] == (byte)'I') return WithU16LittleEndian(d, 6 + 2 * rng.Next(2), (ushort)value);
        // JPEG: the height and width of the start-of-frame segment (FFC0 baseline, FFC2 progressive).
        for (int i = 2; i + 8 < d.Length; i++)
            if (d[i] == 0xFF && d[i + 1] is 0xC0 or 0xC2)
            {
                var c = (byte[])d.Clone();
                BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(i + 5 + 2 * rng.Next(2)), (ushort)value);
                return c;
            }
        return d;
    }

    // A PNG chunk's length field (the 4 bytes before its type), so the decoder reads past or short of the chunk.
    private static byte[] PngChunkLength(Random rng, byte[] d)
    {
        if (d.Length < 16 || d[0] != 0x89) return d;
        var starts = new List<int>();
        for (int at = 8; at + 8 <= d.Length; )
        {
            starts.Add(at);
            long length = BinaryPrimitives.ReadUInt32BigEndian(d.AsSpan(at));
            if (length > d.Length) break;
            at += 12 + (int)length;
        }
        return WithI32BigEndian(d, starts[rng.Next(starts.Count)], (int)Mutators.PickNumber(rng));
    }

    // Edits the JSON header; three times in four the length field follows the edit, so the JSON itself gets parsed.
    private static byte[] InSafeTensorsHeader(Random rng, byte[] d, TextEdit edit)
    {
        if (d.Length < 8) return d;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(d);
        if (n > (ulong)(d.Length - 8)) return d;
        if (edit(d, 8, 8 + (int)n) is not var (data, delta)) return d;
        return rng.Next(4) == 0 ? data : WithU64(data, 0, n + (ulong)(long)delta);
    }

    // Edits the header dict of a version 1.0 file, keeping its 2-byte length field in step three times in four.
    private static byte[] InNpyHeader(Random rng, byte[] d, TextEdit edit)
    {
        if (d.Length < 10 || d[6] != 1) return d;
        int n = BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(8));
        if (n > d.Length - 10) return d;
        if (edit(d, 10, 10 + n) is not var (data, delta)) return d;
        return rng.Next(4) == 0 ? data : WithU16(data, 8, (ushort)(n + delta));
    }

    private static byte[] ProtobufVarint(Random rng, byte[] d)
    {
        var fields = Protobuf.Fields(d).Where(f => !f.IsLength).ToList();
        if (fields.Count == 0) return d;
        var f = fields[rng.Next(fields.Count)];
        return Mutators.Splice(d, f.Offset, f.Size, Mutators.Varint(Mutators.PickNumber(rng)));
    }

    private static byte[] ProtobufLength(Random rng, byte[] d)
    {
        var fields = Protobuf.Fields(d).Where(f => f.IsLength).ToList();
        if (fields.Count == 0) return d;
        var f = fields[rng.Next(fields.Count)];
        long value = rng.Next(2) == 0 ? f.Value + rng.Next(-4, 5) : Mutators.PickNumber(rng);
        return Mutators.Splice(d, f.Offset, f.Size, Mutators.Varint(value));
    }

    private static byte[] Gzip(byte[] d)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest)) gzip.Write(d);
        return buffer.ToArray();
    }

    private static byte[] WithByte(byte[] d, int at, byte value)
    {
        if (d.Length <= at) return d;
        var c = (byte[])d.Clone();
        c[at] = value;
        return c;
    }

    private static byte[] WithU16(byte[] d, int at, ushort value)
    {
        var c = (byte[])d.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(at), value);
        return c;
    }

    private static byte[] WithI32BigEndian(byte[] d, int at, int value)
    {
        var c = (byte[])d.Clone();
        BinaryPrimitives.WriteInt32BigEndian(c.AsSpan(at), value);
        return c;
    }

    private static byte[] WithU16LittleEndian(byte[] d, int at, ushort value)
    {
        var c = (byte[])d.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(c.AsSpan(at), value);
        return c;
    }

    private static byte[] WithU64(byte[] d, int at, ulong value)
    {
        if (d.Length < at + 8) return d;
        var c = (byte[])d.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(at), value);
        return c;
    }
}

/// <summary>A best-effort walk over protobuf wire data: where the varints and length prefixes are.</summary>
public static class Protobuf
{
    /// <summary>A varint in the data: its offset and size in bytes, its value, and whether it is a length prefix.</summary>
    public readonly record struct Field(int Offset, int Size, long Value, bool IsLength);

    /// <summary>
    /// The varint fields and length prefixes of the message in <paramref name="data"/>, descending into every
    /// length-delimited payload that itself parses as a message (nested messages; packed or raw data may too, harmlessly).
    /// </summary>
    public static List<Field> Fields(byte[] data)
    {
        var fields = new List<Field>();
        Walk(data, 0, data.Length, 0, fields);
        return fields;
    }

    private static bool Walk(byte[] d, int start, int end, int depth, List<Field> fields)
    {
        int p = start;
        while (p < end)
        {
            if (!ReadVarint(d, ref p, end, out long tag) || tag >> 3 == 0) return false;
            switch (tag & 7)
            {
                case 0:
                    int at = p;
                    if (!ReadVarint(d, ref p, end, out long value)) return false;
                    fields.Add(new Field(at, p - at, value, false));
                    break;
                case 1: p += 8; break;
                case 5: p += 4; break;
                case 2:
                    int lengthAt = p;
                    if (!ReadVarint(d, ref p, end, out long length) || length < 0 || length > end - p) return false;
                    fields.Add(new Field(lengthAt, p - lengthAt, length, true));
                    // Raw tensor bytes rarely parse as a message; large ones are not worth the try.
                    if (depth < 6 && length is > 0 and < 1 << 16)
                    {
                        var inner = new List<Field>();
                        if (Walk(d, p, p + (int)length, depth + 1, inner)) fields.AddRange(inner);
                    }
                    p += (int)length;
                    break;
                default: return false;
            }
        }
        return p == end;
    }

    private static bool ReadVarint(byte[] d, ref int p, int end, out long value)
    {
        value = 0;
        for (int shift = 0; shift < 64 && p < end; shift += 7)
        {
            byte b = d[p++];
            value |= (long)(b & 0x7F) << shift;
            if (b < 0x80) return true;
        }
        return false;
    }
}
