// Parses and validates a safetensors JSON header with Utf8JsonReader, so duplicate keys (which a
// dictionary-based parser would silently merge) are caught. Every fault becomes a one-line
// InvalidFileException; nothing is allocated from a size the header claims before it is checked
// against the data section. The rules follow the reference implementation's Metadata::validate.
using System.Text.Json;

namespace Condense.Formats;

public sealed partial class SafeTensorHeader
{
    /// <summary>Parses <paramref name="json"/> and checks it against a data section of <paramref name="dataLength"/> bytes.</summary>
    internal static SafeTensorHeader Parse(string path, ReadOnlySpan<byte> json, long dataStart, long dataLength)
    {
        var tensors = new List<SafeTensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw Fault(path, "header is not a JSON object");
            var names = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string name = reader.GetString()!;
                if (!names.Add(name)) throw Fault(path, $"duplicate key {SafeTensorEntry.Quote(name)} in header");
                reader.Read();
                if (name == SafeTensors.MetadataKey) ReadMetadata(path, ref reader, metadata);
                else tensors.Add(ReadTensor(path, name, ref reader, dataLength));
            }
            // Utf8JsonReader throws on anything but whitespace after the root object.
            if (reader.Read()) throw Fault(path, "content after the header object");
        }
        catch (JsonException e)
        {
            throw Fault(path, $"header is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine})");
        }
        catch (InvalidOperationException)
        {
            // Raised by GetString for a string that is not valid UTF-8.
            throw Fault(path, "header is not valid UTF-8");
        }
        CheckContiguous(path, tensors, dataLength);
        return new SafeTensorHeader(tensors, metadata, dataStart, dataLength);
    }

    private static void ReadMetadata(string path, ref Utf8JsonReader reader, Dictionary<string, string> metadata)
    {
        if (reader.TokenType == JsonTokenType.Null) return; // the reference writes null for "no metadata"
        if (reader.TokenType != JsonTokenType.StartObject) throw Fault(path, "__metadata__ is not an object");
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw Fault(path, $"metadata value for {SafeTensorEntry.Quote(key)} is not a string");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw Fault(path, $"duplicate metadata key {SafeTensorEntry.Quote(key)}");
        }
    }

    private static SafeTensorInfo ReadTensor(string path, string name, ref Utf8JsonReader reader, long dataLength)
    {
        string q = SafeTensorEntry.Quote(name);
        if (reader.TokenType != JsonTokenType.StartObject) throw Fault(path, $"tensor {q} is not a JSON object");
        string? dtypeCode = null;
        List<long>? shape = null, offsets = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            string key = reader.GetString()!;
            reader.Read();
            switch (key)
            {
                case "dtype":
                    if (dtypeCode is not null) throw Fault(path, $"tensor {q} has a duplicate dtype");
                    if (reader.TokenType != JsonTokenType.String) throw Fault(path, $"tensor {q}: dtype is not a string");
                    dtypeCode = reader.GetString()!;
                    break;
                case "shape":
                    if (shape is not null) throw Fault(path, $"tensor {q} has a duplicate shape");
                    shape = ReadIntegers(path, ref reader, $"tensor {q}: shape");
                    break;
                case "data_offsets":
                    if (offsets is not null) throw Fault(path, $"tensor {q} has duplicate data_offsets");
                    offsets = ReadIntegers(path, ref reader, $"tensor {q}: data_offsets");
                    break;
                default:
                    reader.Skip(); // unknown fields are ignored, as serde does for the reference reader
                    break;
            }
        }
        if (dtypeCode is null) throw Fault(path, $"tensor {q} has no dtype");
        if (shape is null) throw Fault(path, $"tensor {q} has no shape");
        if (offsets is null) throw Fault(path, $"tensor {q} has no data_offsets");
        if (!SafeTensorDTypes.TryParse(dtypeCode, out var dtype))
            throw Fault(path, $"tensor {q} has unknown dtype {SafeTensorEntry.Quote(dtypeCode)}");
        if (offsets.Count != 2) throw Fault(path, $"tensor {q}: data_offsets has {offsets.Count} values, not 2");
        if (shape.Any(d => d < 0)) throw Fault(path, $"tensor {q} has a negative dimension in shape [{string.Join(", ", shape)}]");
        if (offsets.Any(o => o < 0)) throw Fault(path, $"tensor {q} has a negative data offset");
        long begin = offsets[0], end = offsets[1];
        if (begin > end) throw Fault(path, $"tensor {q}: data_offsets [{begin}, {end}] begin after their end");
        if (end > dataLength)
            throw Fault(path, $"tensor {q} ends at byte {end} but the data section has {dataLength} bytes (file truncated?)");
        long[] dims = shape.ToArray();
        long needed = dtype.ByteLength(dims);
        if (needed < 0) throw Fault(path, $"tensor {q}: shape [{string.Join(", ", dims)}] overflows");
        if (needed != end - begin)
            throw Fault(path, $"tensor {q}: shape [{string.Join(", ", dims)}] of {dtype.ToCode()} needs {needed} bytes "
                + $"but data_offsets [{begin}, {end}] hold {end - begin}");
        return new SafeTensorInfo(name, dtype, dims, begin, end);
    }

    /// <summary>Reads a JSON array of non-negative integers that fit a long.</summary>
    private static List<long> ReadIntegers(string path, ref Utf8JsonReader reader, string what)
    {
        if (reader.TokenType != JsonTokenType.StartArray) throw Fault(path, $"{what} is not an array");
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v))
                throw Fault(path, $"{what} holds something other than an integer");
            values.Add(v);
        }
        return values;
    }

    /// <summary>
    /// The reference rejects gaps and overlaps: sorted by offset, each tensor must begin where the
    /// previous one ended, starting at 0 and ending at the end of the file.
    /// </summary>
    private static void CheckContiguous(string path, List<SafeTensorInfo> tensors, long dataLength)
    {
        var sorted = tensors.OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        long expected = 0;
        foreach (var t in sorted)
        {
            if (t.Begin < expected)
                throw Fault(path, $"tensor {SafeTensorEntry.Quote(t.Name)} at data_offsets [{t.Begin}, {t.End}] "
                    + $"overlaps the tensor before it (which ends at {expected})");
            if (t.Begin > expected)
                throw Fault(path, $"gap in the data section: bytes [{expected}, {t.Begin}) belong to no tensor");
            expected = t.End;
        }
        if (expected != dataLength)
            throw Fault(path, $"gap in the data section: bytes [{expected}, {dataLength}) after the last tensor belong to no tensor");
    }

    private static InvalidFileException Fault(string path, string fault) => new(path, fault);
}
