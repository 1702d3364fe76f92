// Writes Hugging Face safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// (padded with spaces so the data starts 8-aligned), then the tensors' bytes back to back in the
// given order. Writes are atomic: a temp file in the same directory is renamed over the target.
// Reading is in SafeTensors.Read.cs. Spec: https://github.com/huggingface/safetensors#format
using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using Condense.Tensors;

namespace Condense.Formats;

/// <summary>Reads and writes the safetensors format.</summary>
public static partial class SafeTensors
{
    /// <summary>The header key that holds the string metadata instead of a tensor.</summary>
    public const string MetadataKey = "__metadata__";

    /// <summary>The largest header accepted, as in the reference implementation.</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>
    /// Writes <paramref name="tensors"/> in the given order, with optional string metadata, replacing
    /// <paramref name="path"/> atomically. On any failure the target is untouched and no temp file is left.
    /// </summary>
    /// <exception cref="ArgumentException">Two tensors share a name, or an entry's data does not fit its shape.</exception>
    public static void Write(string path, IEnumerable<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        // Everything is checked and the header built before the temp file exists, so bad input never touches the disk.
        var list = tensors.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in list)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
            // `with` expressions skip the record's check, so repeat it.
            SafeTensorEntry.Check(t.Name, t.DType, t.Shape, t.Data);
            if (!names.Add(t.Name)) throw new ArgumentException($"two tensors are named {SafeTensorEntry.Quote(t.Name)}", nameof(tensors));
        }
        byte[] header = BuildHeader(list, metadata);

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var t in list) stream.Write(t.Data);
        });
    }

    /// <summary>Writes float32 tensors as F32, in the dictionary's enumeration order.</summary>
    public static void WriteFloat(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Write(path, tensors.Select(kv => SafeTensorEntry.FromFloat(kv.Key, kv.Value)), metadata);
    }

    /// <summary>The JSON header, space-padded so that 8 + its length is a multiple of 8.</summary>
    private static byte[] BuildHeader(List<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        // The relaxed encoder writes non-ASCII names as UTF-8, as the reference does, rather than \u escapes.
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(value, nameof(metadata));
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType.ToCode());
                json.WriteStartArray("shape");
                foreach (long d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }
            json.WriteEndObject();
        }
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
