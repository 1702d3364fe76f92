// Helpers for the safetensors tests: a scratch directory per test class and a builder that lays out
// a file byte by byte from a JSON string, independently of SafeTensors.Write.
using System.Text;

namespace Condense.Tests.Formats;

/// <summary>A fresh temporary directory, deleted when the test class is disposed.</summary>
public sealed class ScratchDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("condense-safetensors-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

internal static class SafeTensorsTestFiles
{
    /// <summary>
    /// The format as the spec states it: 8-byte little-endian length, the JSON, the data. The length is
    /// written with explicit shifts rather than BinaryPrimitives so the test does not share code with the reader.
    /// </summary>
    public static byte[] Build(string json, byte[]? data = null, ulong? headerLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        ulong n = headerLength ?? (ulong)header.Length;
        var file = new List<byte>();
        for (int i = 0; i < 8; i++) file.Add((byte)(n >> (8 * i)));
        file.AddRange(header);
        file.AddRange(data ?? []);
        return file.ToArray();
    }

    /// <summary>1f, 2f, 3f, 4f as little-endian float32 bytes, spelled out.</summary>
    public static readonly byte[] OneToFourF32 =
    [
        0x00, 0x00, 0x80, 0x3F, // 1.0
        0x00, 0x00, 0x00, 0x40, // 2.0
        0x00, 0x00, 0x40, 0x40, // 3.0
        0x00, 0x00, 0x80, 0x40, // 4.0
    ];
}
