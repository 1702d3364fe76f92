// Reads and writes NumPy .npy files (format versions 1.0, 2.0 and 3.0): a magic string, a version,
// a little-endian header length (2 bytes in 1.0, 4 in 2.0/3.0), a padded Python dict header, then the
// raw C-order data. Only little-endian numeric dtypes are accepted; every fault is a one-line error.
using System.Buffers.Binary;
using System.Text;

namespace Condense.Data;

/// <summary>Reads and writes .npy files.</summary>
public static class Npy
{
    /// <summary>The longest header accepted; numpy's own are under 1 KiB, so this only stops garbage.</summary>
    public const int MaxHeaderBytes = 1 << 20;

    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads the array in <paramref name="path"/>.</summary>
    public static NpyArray Read(string path)
    {
        using var file = DataFile.OpenRead(path);
        return DataFile.Guard(path, () => Read(file, file.Length, path));
    }

    private static NpyArray Read(Stream stream, long length, string path)
    {
        Span<byte> preamble = stackalloc byte[8];
        int got = DataFile.ReadUpTo(stream, preamble);
        if (got >= 4 && preamble[..4].SequenceEqual("PK\x03\x04"u8))
            throw new InvalidFileException(path, "is a .npz archive, not a .npy file; extract the arrays first");
        if (got < 6 || !preamble[..6].SequenceEqual(Magic))
            throw new InvalidFileException(path, got < 6 ? $"truncated header: {got} bytes, not a .npy file" : "wrong magic bytes, not a .npy file");
        if (got < 8)
            throw new InvalidFileException(path, "truncated header: no version bytes");
        int major = preamble[6], minor = preamble[7];
        int lengthBytes = major switch
        {
            1 => 2,
            2 or 3 => 4,
            _ => throw new InvalidFileException(path, $"unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"),
        };

        Span<byte> lenBytes = stackalloc byte[4];
        if (DataFile.ReadUpTo(stream, lenBytes[..lengthBytes]) < lengthBytes)
            throw new InvalidFileException(path, "truncated header: no header length");
        long headerLength = lengthBytes == 2 ? BinaryPrimitives.ReadUInt16LittleEndian(lenBytes) : BinaryPrimitives.ReadUInt32LittleEndian(lenBytes);
        long afterPreamble = length - 8 - lengthBytes;
        if (headerLength > MaxHeaderBytes)
            throw new InvalidFileException(path, $"header of {headerLength} bytes is too long (at most {MaxHeaderBytes})");
        if (headerLength > afterPreamble)
            throw new InvalidFileException(path, $"truncated header: expected {headerLength} bytes, found {afterPreamble}");
        var headerBytes = new byte[headerLength];
        DataFile.ReadUpTo(stream, headerBytes);
        // Versions 1.0 and 2.0 store the header as latin-1; 3.0 allows utf-8.
        string text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);

        var header = NpyHeader.Parse(text, path);
        var dtype = NpyHeader.DtypeOf(header.Descr)
            ?? throw new InvalidFileException(path, $"unsupported dtype '{header.Descr}' (supported: {NpyHeader.Supported})");
        // For rank 0 or 1 the two orders are the same bytes; beyond that we would have to transpose.
        if (header.FortranOrder && header.Shape.Length > 1)
            throw new InvalidFileException(path, "Fortran-order arrays are not supported; save with np.ascontiguousarray");

        long count = 1;
        foreach (int d in header.Shape)
        {
            count *= d;
            if (count > DataFile.MaxBytes) count = DataFile.MaxBytes + 1; // clamp so a long product cannot overflow
        }
        long bytes = count * NpyArray.ElementSize(dtype);
        if (count > int.MaxValue || bytes > DataFile.MaxBytes)
            throw new InvalidFileException(path,
                $"shape {Tensors.Shape.Format(header.Shape)} of {dtype} is too large (at most {DataFile.MaxBytes} bytes of data)");
        byte[] data = DataFile.ReadPayload(stream, bytes, afterPreamble - headerLength, path);
        return new NpyArray(dtype, header.Shape, data);
    }

    /// <summary>Writes float32 data of the given shape as a version 1.0 .npy file (atomically).</summary>
    public static void Write(string path, float[] data, int[] shape)
    {
        var bytes = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), data[i]);
        Write(path, new NpyArray(NpyDtype.Float32, shape, bytes));
    }

    /// <summary>Writes int64 data of the given shape as a version 1.0 .npy file (atomically).</summary>
    public static void Write(string path, long[] data, int[] shape)
    {
        var bytes = new byte[data.Length * 8];
        for (int i = 0; i < data.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 * i), data[i]);
        Write(path, new NpyArray(NpyDtype.Int64, shape, bytes));
    }

    /// <summary>Writes uint8 data of the given shape as a version 1.0 .npy file (atomically).</summary>
    public static void Write(string path, byte[] data, int[] shape) =>
        Write(path, new NpyArray(NpyDtype.UInt8, shape, data));

    /// <summary>Writes <paramref name="array"/> as a version 1.0 .npy file (atomically).</summary>
    public static void Write(string path, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        // numpy pads the header with spaces and a final newline so the data starts on a 64-byte boundary.
        string dict = NpyHeader.Format(array.Dtype, array.Shape);
        int unpadded = Magic.Length + 2 + 2 + dict.Length + 1;
        string header = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        var prefix = new byte[Magic.Length + 4];
        Magic.CopyTo(prefix);
        prefix[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(prefix.AsSpan(8), checked((ushort)header.Length));
        AtomicFile.Write(path, file =>
        {
            file.Write(prefix);
            file.Write(Encoding.Latin1.GetBytes(header));
            file.Write(array.Data);
        });
    }
}
