// Writes IDX files (the MNIST format, see IdxReader), optionally gzipped. Tests use it to build
// fixtures; users can use it to save data for other tools. Writes are atomic: temp file, then rename.
using System.Buffers.Binary;
using System.IO.Compression;

namespace Condense.Data;

/// <summary>Writes IDX files.</summary>
public static class IdxWriter
{
    /// <summary>Writes <paramref name="array"/> to <paramref name="path"/>, gzipped when <paramref name="gzip"/> is true.</summary>
    public static void Write(string path, IdxArray array, bool gzip = false)
    {
        ArgumentNullException.ThrowIfNull(array);
        AtomicFile.Write(path, file =>
        {
            if (!gzip) { WriteTo(file, array); return; }
            using var zip = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true);
            WriteTo(zip, array);
        });
    }

    /// <summary>Writes the header and data of <paramref name="array"/> to <paramref name="stream"/>.</summary>
    public static void WriteTo(Stream stream, IdxArray array)
    {
        var header = new byte[4 + 4 * array.Dims.Length];
        header[2] = (byte)array.Type;
        header[3] = (byte)array.Dims.Length;
        for (int i = 0; i < array.Dims.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4 + 4 * i), array.Dims[i]);
        stream.Write(header);
        stream.Write(array.Data);
    }
}
