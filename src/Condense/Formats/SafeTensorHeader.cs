// The parsed JSON header of a safetensors file: where each tensor's bytes lie and the string metadata.
// SafeTensors.ReadHeader returns it without touching the data; SafeTensors.Read uses it to load the
// tensors. Parsing and validation are in SafeTensorHeader.Parse.cs.
namespace Condense.Formats;

/// <summary>One tensor as the header describes it: dtype, shape and byte range in the data section.</summary>
/// <param name="Name">The tensor's key in the header.</param>
/// <param name="DType">The element type.</param>
/// <param name="Shape">The dimensions; empty for a scalar.</param>
/// <param name="Begin">First byte, relative to the start of the data section.</param>
/// <param name="End">One past the last byte, relative to the start of the data section.</param>
public sealed record SafeTensorInfo(string Name, SafeTensorDType DType, long[] Shape, long Begin, long End)
{
    /// <summary>The number of bytes the tensor occupies.</summary>
    public long ByteLength => End - Begin;
}

/// <summary>The validated header of a safetensors file.</summary>
public sealed partial class SafeTensorHeader
{
    internal SafeTensorHeader(IReadOnlyList<SafeTensorInfo> tensors, IReadOnlyDictionary<string, string> metadata,
        long dataStart, long dataLength)
    {
        Tensors = tensors;
        Metadata = metadata;
        DataStart = dataStart;
        DataLength = dataLength;
    }

    /// <summary>The tensors in the order the header lists them.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>File offset of the data section: 8 plus the header length.</summary>
    public long DataStart { get; }

    /// <summary>Length of the data section in bytes; the tensors cover it exactly.</summary>
    public long DataLength { get; }
}
