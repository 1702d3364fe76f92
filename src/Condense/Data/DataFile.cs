// File plumbing shared by the loaders (IDX, NPY, CSV): opening with one-line errors, gzip detection
// by magic bytes, reading a payload without trusting the size a header claims, and atomic writes
// (a temp file in the same folder, then File.Move with overwrite, so readers never see half a file).
using System.IO.Compression;

namespace Condense.Data;

internal static class DataFile
{
    /// <summary>The largest payload any loader will allocate: a .NET byte array's limit.</summary>
    public static long MaxBytes => Array.MaxLength;

    /// <summary>First chunk for streams of unknown length; the buffer then doubles as data arrives.</summary>
    private const int FirstChunk = 1 << 20;

    /// <summary>Opens <paramref name="path"/> for reading, turning I/O failures into <see cref="InvalidFileException"/>.</summary>
    public static FileStream OpenRead(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidFileException(path, $"file not found (looked in {Path.GetDirectoryName(Path.GetFullPath(path))})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidFileException(path, $"cannot open: {OneLine(e.Message)}");
        }
    }

    /// <summary>
    /// Wraps a seekable stream in a <see cref="GZipStream"/> when it starts with the gzip magic 1F 8B.
    /// Returns the bytes left in the (decompressed) stream when that is known, i.e. when not gzipped.
    /// </summary>
    public static (Stream Stream, long? Remaining) MaybeGunzip(Stream stream)
    {
        if (!stream.CanSeek) throw new ArgumentException("stream must be seekable", nameof(stream));
        long start = stream.Position;
        Span<byte> magic = stackalloc byte[2];
        int n = ReadUpTo(stream, magic);
        stream.Position = start;
        if (n == 2 && magic[0] == 0x1F && magic[1] == 0x8B)
            return (new GZipStream(stream, CompressionMode.Decompress, leaveOpen: true), null);
        return (stream, stream.Length - start);
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the stream ends; returns the count read.</summary>
    public static int ReadUpTo(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    /// <summary>
    /// Reads exactly <paramref name="expected"/> payload bytes that must end the stream. When the length
    /// is known it is checked before allocating; otherwise the buffer grows only as data really arrives,
    /// so a corrupt header claiming gigabytes costs at most twice what the stream actually holds.
    /// </summary>
    public static byte[] ReadPayload(Stream stream, long expected, long? remaining, string path)
    {
        if (expected > MaxBytes)
            throw new InvalidFileException(path, $"data of {expected} bytes is too large (at most {MaxBytes})");
        if (remaining is long left && left < expected)
            throw new InvalidFileException(path, $"truncated: expected {expected} bytes of data, found {left}");

        byte[] data = new byte[remaining is null ? Math.Min(expected, FirstChunk) : expected];
        int filled = 0;
        while (true)
        {
            filled += ReadUpTo(stream, data.AsSpan(filled));
            if (filled < data.Length || filled == expected) break;
            Array.Resize(ref data, (int)Math.Min(expected, 2L * data.Length));
        }
        if (filled < expected)
            throw new InvalidFileException(path, $"truncated: expected {expected} bytes of data, found {filled}");

        Span<byte> probe = stackalloc byte[1];
        if (remaining is long total ? total > expected : ReadUpTo(stream, probe) > 0)
        {
            string extra = remaining is long t ? $"{t - expected} " : "";
            throw new InvalidFileException(path, $"{extra}unexpected bytes after the {expected} bytes of data");
        }
        return data;
    }

    /// <summary>Runs a read, turning a corrupt gzip stream or a failing disk into <see cref="InvalidFileException"/>.</summary>
    public static T Guard<T>(string path, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidFileException(path, $"corrupt gzip data: {OneLine(e.Message)}");
        }
        catch (IOException e)
        {
            throw new InvalidFileException(path, $"read failed: {OneLine(e.Message)}");
        }
    }

    /// <summary>Keeps an inner message to one line, so the error stays printable as is.</summary>
    public static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
