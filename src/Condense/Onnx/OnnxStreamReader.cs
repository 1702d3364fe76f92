// Reads an ONNX ModelProto from a stream without holding its weights twice. Google.Protobuf would parse every
// initializer's raw_data into a ByteString first, so a 90 MB model sat in memory as protobuf bytes and again as our
// tensors (all-MiniLM-L6-v2: loading peaked at 274 MB resident for 90 MB of weights). Here the protobuf wire format
// (https://protobuf.dev/programming-guides/encoding/) is walked by hand down to ModelProto.graph (field 7) →
// GraphProto.initializer (field 5) → TensorProto.raw_data (field 9): a large raw_data is read from the file straight
// into the float[] that becomes the tensor's storage, and every other field is copied as bytes and parsed by
// Google.Protobuf as before. Copying a message's fields and parsing the copy is what parsing the original does
// (repeated fields append, a repeated scalar keeps the last value, two graph fields merge), so the model read is the same.
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Condense.Onnx;

/// <summary>A ModelProto whose large float initializers were read straight into float arrays.</summary>
/// <param name="Model">The model; a tensor in <paramref name="FloatData"/> has no raw_data of its own.</param>
/// <param name="FloatData">Raw data read as floats, by TensorProto (reference identity): always a FLOAT tensor's.</param>
internal sealed record OnnxStreamModel(ModelProto Model, IReadOnlyDictionary<TensorProto, float[]> FloatData);

internal static class OnnxStreamReader
{
    private const int ModelGraph = 7, GraphInitializer = 5, TensorFloatData = 4, TensorRawData = 9;
    private const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

    /// <summary>Raw data from this size on is read into float storage directly; smaller tensors go through protobuf.</summary>
    private const int DirectBytes = 4096;

    /// <summary>Parses the whole of <paramref name="stream"/> (seekable, for its length) as a ModelProto.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid protobuf message (Google.Protobuf's own exception for the
    /// fields it parses).</exception>
    public static OnnxStreamModel Read(Stream stream)
    {
        var reader = new WireReader(stream);
        var floats = new Dictionary<TensorProto, float[]>(ReferenceEqualityComparer.Instance);
        var modelRest = new MemoryStream();
        var graphRest = new MemoryStream();
        var initializers = new List<TensorProto>();
        bool hasGraph = false;
        long end = stream.Length;
        while (reader.Position < end)
        {
            var (tag, field, wire) = reader.ReadTag();
            if (field == ModelGraph && wire == LengthDelimited)
            {
                long graphLength = reader.ReadLength(end), graphEnd = reader.Position + graphLength;
                hasGraph = true;
                while (reader.Position < graphEnd)
                {
                    var (graphTag, graphField, graphWire) = reader.ReadTag();
                    if (graphField == GraphInitializer && graphWire == LengthDelimited)
                    {
                        long tensorLength = reader.ReadLength(graphEnd);
                        initializers.Add(ReadTensor(reader, reader.Position + tensorLength, floats));
                    }
                    else reader.CopyField(graphTag, graphWire, graphEnd, graphRest);
                }
                Expect(reader.Position == graphEnd, "a graph field runs past its message");
            }
            else reader.CopyField(tag, wire, end, modelRest);
        }
        var model = ModelProto.Parser.ParseFrom(modelRest.GetBuffer(), 0, (int)modelRest.Length);
        if (hasGraph)
        {
            model.Graph = GraphProto.Parser.ParseFrom(graphRest.GetBuffer(), 0, (int)graphRest.Length);
            model.Graph.Initializer.Add(initializers);
        }
        return new OnnxStreamModel(model, floats);
    }

    // One TensorProto ending at `end`: a large raw_data, or a large packed float_data (CNTK's exports store weights there),
    // goes into a float[]; the rest through protobuf.
    private static TensorProto ReadTensor(WireReader reader, long end, Dictionary<TensorProto, float[]> floats)
    {
        var rest = new MemoryStream();
        float[]? raw = null, packed = null;
        bool floatDataSeen = false;
        while (reader.Position < end)
        {
            var (tag, field, wire) = reader.ReadTag();
            if (field == TensorRawData && wire == LengthDelimited)
            {
                // A later raw_data replaces an earlier one, as in protobuf.
                long length = reader.ReadLength(end);
                raw = Direct(length) ? reader.ReadFloats(length) : null;
                if (raw is null) reader.CopyLengthDelimited(tag, length, end, rest);
                continue;
            }
            if (field == TensorFloatData)
            {
                // Repeated: the values of every float_data field append. Only a lone packed run is read directly; any other
                // arrangement goes through protobuf whole, in order.
                if (packed is not null)
                {
                    WireReader.WriteBytes(rest, TensorFloatData << 3 | LengthDelimited, MemoryMarshal.AsBytes(packed.AsSpan()));
                    packed = null;
                }
                if (wire == LengthDelimited && !floatDataSeen)
                {
                    floatDataSeen = true;
                    long length = reader.ReadLength(end);
                    packed = Direct(length) ? reader.ReadFloats(length) : null;
                    if (packed is null) reader.CopyLengthDelimited(tag, length, end, rest);
                    continue;
                }
                floatDataSeen = true;
            }
            reader.CopyField(tag, wire, end, rest);
        }
        Expect(reader.Position == end, "a tensor field runs past its message");
        var tensor = TensorProto.Parser.ParseFrom(rest.GetBuffer(), 0, (int)rest.Length);
        if (raw is not null)
        {
            if (tensor.DataType == OnnxTensors.Float)
            {
                floats[tensor] = raw;
                tensor.RawData = ByteString.Empty;
            }
            // Another type's bytes (int8 weights, int64 shapes) go back to raw_data, read by the usual path.
            else tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(raw.AsSpan()));
        }
        // raw_data, when present, is what OnnxTensors reads; float_data of another type is refused there as before.
        if (packed is not null)
        {
            if (raw is null && tensor.RawData.IsEmpty && tensor.DataType == OnnxTensors.Float) floats[tensor] = packed;
            else tensor.FloatData.Add(packed);
        }
        return tensor;
    }

    private static bool Direct(long length) => BitConverter.IsLittleEndian && length >= DirectBytes && length % sizeof(float) == 0;

    private static void Expect(bool condition, string what)
    {
        if (!condition) throw new InvalidDataException(what);
    }

    // Varints and raw bytes from a buffered stream, with the position kept; lengths are checked against the enclosing end
    // before anything is allocated, so a corrupt file cannot ask for more memory than it has bytes.
    private sealed class WireReader(Stream stream)
    {
        private readonly BufferedStream _input = new(stream, 1 << 16);

        public long Position { get; private set; }

        public (ulong Tag, int Field, int Wire) ReadTag()
        {
            ulong tag = ReadVarint();
            int field = (int)Math.Min(tag >> 3, int.MaxValue);
            Expect(field > 0, "a field number of 0");
            return (tag, field, (int)(tag & 7));
        }

        public long ReadLength(long end)
        {
            ulong length = ReadVarint();
            // A varint may have run past the end of its message: then nothing fits.
            Expect(Position <= end && length <= (ulong)(end - Position), "a length beyond the end of its message (truncated file?)");
            return (long)length;
        }

        public void ReadExactly(Span<byte> bytes)
        {
            _input.ReadExactly(bytes);
            Position += bytes.Length;
        }

        /// <summary>The next <paramref name="length"/> bytes (a multiple of 4, checked by ReadLength) as little-endian floats.</summary>
        public float[] ReadFloats(long length)
        {
            var values = new float[length / sizeof(float)];
            ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
            return values;
        }

        /// <summary>Writes a length-delimited field of <paramref name="bytes"/> under <paramref name="tag"/>.</summary>
        public static void WriteBytes(MemoryStream output, ulong tag, ReadOnlySpan<byte> bytes)
        {
            WriteVarint(output, tag);
            WriteVarint(output, (ulong)bytes.Length);
            output.Write(bytes);
        }

        /// <summary>Copies the field whose tag was just read (tag and payload) to <paramref name="output"/>.</summary>
        public void CopyField(ulong tag, int wire, long end, MemoryStream output)
        {
            WriteVarint(output, tag);
            switch (wire)
            {
                case Varint: WriteVarint(output, ReadVarint()); break;
                case Fixed64: CopyBytes(8, end, output); break;
                case Fixed32: CopyBytes(4, end, output); break;
                case LengthDelimited:
                    long length = ReadLength(end);
                    WriteVarint(output, (ulong)length);
                    CopyBytes(length, end, output);
                    break;
                default: throw new InvalidDataException($"wire type {wire} (groups are not used by ONNX)");
            }
        }

        /// <summary>Copies a length-delimited field whose tag and length were just read.</summary>
        public void CopyLengthDelimited(ulong tag, long length, long end, MemoryStream output)
        {
            WriteVarint(output, tag);
            WriteVarint(output, (ulong)length);
            CopyBytes(length, end, output);
        }

        private void CopyBytes(long count, long end, MemoryStream output)
        {
            Expect(count <= end - Position, "a field beyond the end of its message (truncated file?)");
            Expect(output.Length + count <= Array.MaxLength, "a message over 2 GB");
            long at = output.Length;
            output.SetLength(at + count);
            output.Position = output.Length;
            ReadExactly(output.GetBuffer().AsSpan((int)at, (int)count));
        }

        private ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                int b = _input.ReadByte();
                if (b < 0) throw new InvalidDataException("the file ends inside a field (truncated file?)");
                Position++;
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return value;
            }
            throw new InvalidDataException("a varint longer than 10 bytes");
        }

        private static void WriteVarint(MemoryStream output, ulong value)
        {
            while (value >= 0x80)
            {
                output.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }
            output.WriteByte((byte)value);
        }
    }
}
