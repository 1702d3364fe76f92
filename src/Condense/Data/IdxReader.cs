// Reads IDX files (LeCun's MNIST format): magic = 0x00 0x00, a type byte and a rank byte; then one
// big-endian int32 per dimension; then the big-endian data. Gzipped files are recognised by their
// 1F 8B magic, not their extension. Every fault becomes a one-line InvalidFileException, and the size
// a header claims is checked before anything that large is allocated.
using System.Buffers.Binary;
using Condense.Tensors;

namespace Condense.Data;

/// <summary>Reads IDX files, plain or gzipped.</summary>
public static class IdxReader
{
    /// <summary>The highest rank accepted; MNIST-style data never needs more than 4.</summary>
    public const int MaxRank = 4;

    /// <summary>Reads the IDX file at <paramref name="path"/>.</summary>
    public static IdxArray Read(string path)
    {
        using var file = DataFile.OpenRead(path);
        return Read(file, path);
    }

    /// <summary>
    /// Reads an IDX array from a seekable stream (plain or gzipped) that holds exactly one array;
    /// <paramref name="name"/> names the source in error messages.
    /// </summary>
    public static IdxArray Read(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return DataFile.Guard(name, () =>
        {
            var (data, remaining) = DataFile.MaybeGunzip(stream);
            try
            {
                return ReadUnpacked(data, remaining, name);
            }
            finally
            {
                if (!ReferenceEquals(data, stream)) data.Dispose();
            }
        });
    }

    private static IdxArray ReadUnpacked(Stream stream, long? remaining, string name)
    {
        Span<byte> magic = stackalloc byte[4];
        int got = DataFile.ReadUpTo(stream, magic);
        if (got < 4)
            throw new InvalidFileException(name, $"truncated header: expected a 4-byte magic number, found {got} bytes");
        if (magic[0] != 0 || magic[1] != 0)
            throw new InvalidFileException(name, $"wrong magic number 0x{BinaryPrimitives.ReadUInt32BigEndian(magic):X8}, not an IDX file");
        var type = (IdxDataType)magic[2];
        if (!Enum.IsDefined(type))
            throw new InvalidFileException(name, $"unknown data type 0x{magic[2]:X2} (IDX types are 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)");
        int rank = magic[3];
        if (rank is < 1 or > MaxRank)
            throw new InvalidFileException(name, $"rank {rank} is not supported (expected 1 to {MaxRank})");

        Span<byte> dimBytes = stackalloc byte[4 * rank];
        got = DataFile.ReadUpTo(stream, dimBytes);
        if (got < dimBytes.Length)
            throw new InvalidFileException(name, $"truncated header: expected {dimBytes.Length} bytes of dimensions, found {got}");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes[(4 * i)..]);
            if (dims[i] < 0)
                throw new InvalidFileException(name, $"dimension {i} is negative ({dims[i]})");
            count *= dims[i]; // at most (2^31)^4 = 2^124 would overflow, so clamp as we go
            if (count > DataFile.MaxBytes) count = DataFile.MaxBytes + 1;
        }
        long bytes = count * IdxArray.ElementSize(type);
        if (count > int.MaxValue || bytes > DataFile.MaxBytes)
            throw new InvalidFileException(name, $"dimensions {Shape.Format(dims)} of {type} are too large (at most {DataFile.MaxBytes} bytes of data)");

        long? left = remaining - 4 - 4 * rank;
        byte[] payload = DataFile.ReadPayload(stream, bytes, left, name);
        return new IdxArray(type, dims, payload);
    }
}
