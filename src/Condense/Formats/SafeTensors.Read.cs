// Reads safetensors files. The header length is checked against the limit and the file size before the
// header is read, and every tensor's range against the data section before its bytes are allocated,
// so a hostile header cannot make the reader allocate more than the file holds.
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Condense.Formats;

public static partial class SafeTensors
{
    /// <summary>Reads and validates the header of <paramref name="path"/> without loading tensor data.</summary>
    /// <exception cref="InvalidFileException">The file is not a valid safetensors file.</exception>
    public static SafeTensorHeader ReadHeader(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return ReadHeader(path, handle);
    }

    /// <summary>Reads all tensors and the metadata of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidFileException">The file is not a valid safetensors file.</exception>
    public static SafeTensorFile Read(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var header = ReadHeader(path, handle);
        var entries = new List<SafeTensorEntry>(header.Tensors.Count);
        foreach (var info in header.Tensors)
        {
            if (info.ByteLength > Array.MaxLength)
                throw new InvalidFileException(path, $"tensor {SafeTensorEntry.Quote(info.Name)} has {info.ByteLength} bytes, more than one array can hold");
            // Safe to allocate: the parser checked the range lies inside the file.
            var data = GC.AllocateUninitializedArray<byte>((int)info.ByteLength);
            ReadExactly(path, handle, data, header.DataStart + info.Begin);
            entries.Add(new SafeTensorEntry(info.Name, info.DType, info.Shape, data));
        }
        return new SafeTensorFile(path, entries, header.Metadata);
    }

    private static SafeTensorHeader ReadHeader(string path, SafeFileHandle handle)
    {
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
            throw new InvalidFileException(path, $"file has {fileLength} bytes, too short for the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(path, handle, prefix, 0);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderLength)
            throw new InvalidFileException(path, $"header length {n} exceeds the {MaxHeaderLength}-byte limit");
        if ((long)n > fileLength - 8)
            throw new InvalidFileException(path, $"header length {n} exceeds the {fileLength - 8} bytes after the length field");
        var json = new byte[(int)n];
        ReadExactly(path, handle, json, 8);
        long dataStart = 8 + (long)n;
        return SafeTensorHeader.Parse(path, json, dataStart, fileLength - dataStart);
    }

    /// <summary>Fills <paramref name="buffer"/> from <paramref name="offset"/>; a short read means the file shrank.</summary>
    private static void ReadExactly(string path, SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        while (!buffer.IsEmpty)
        {
            int read = RandomAccess.Read(handle, buffer, offset);
            if (read == 0) throw new InvalidFileException(path, $"file ends unexpectedly at byte {offset}");
            buffer = buffer[read..];
            offset += read;
        }
    }
}
