// Each way a safetensors file can be broken, built by hand, must fail with a one-line
// InvalidFileException naming the file and the fault, from both Read and ReadHeader.
using Condense.Formats;
using Condense.Tensors;
using static Condense.Tests.Formats.SafeTensorsTestFiles;

namespace Condense.Tests.Formats;

public sealed class SafeTensorsCorruptFileTests : IDisposable
{
    private const string FileName = "corrupt.safetensors";
    private readonly ScratchDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private void AssertInvalid(byte[] bytes, string fault)
    {
        string path = _dir.File(FileName);
        File.WriteAllBytes(path, bytes);
        foreach (Action read in new Action[] { () => SafeTensors.Read(path), () => SafeTensors.ReadHeader(path) })
        {
            var e = Assert.Throws<InvalidFileException>(read);
            Assert.StartsWith(FileName + ": ", e.Message);
            Assert.Contains(fault, e.Message);
            Assert.DoesNotContain('\n', e.Message);
            File.AppendAllText("/tmp/st_msgs.txt", e.Message + "\n");
            Assert.DoesNotContain('\r', e.Message);
        }
    }

    private void AssertInvalid(string json, int dataLength, string fault) => AssertInvalid(Build(json, new byte[dataLength]), fault);

    [Fact]
    public void FileShorterThanTheLengthField() => AssertInvalid([1, 0, 0], "too short");

    [Fact]
    public void HeaderLengthAboveTheLimit() => AssertInvalid(Build("{}", headerLength: ulong.MaxValue), "limit");

    [Fact]
    public void HeaderLengthBeyondTheFile() => AssertInvalid(Build("{}", headerLength: 1000), "exceeds the 2 bytes");

    [Fact]
    public void TruncatedData() =>
        AssertInvalid("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""", 12, "truncated");

    [Fact]
    public void OverlappingOffsets() =>
        AssertInvalid("""{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}""", 6, "overlaps");

    [Fact]
    public void GapBetweenTensors() =>
        AssertInvalid("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}""", 6, "gap");

    [Fact]
    public void BytesAfterTheLastTensor() =>
        AssertInvalid("""{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}""", 5, "gap");

    [Fact]
    public void SizeMismatch() =>
        AssertInvalid("""{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}""", 12, "needs 16 bytes");

    [Fact]
    public void ShapeOverflowsALong() =>
        AssertInvalid("""{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}""", 0, "overflows");

    [Fact]
    public void UnknownDType() =>
        AssertInvalid("""{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}""", 4, "unknown dtype 'F33'");

    [Fact]
    public void InvalidJson() => AssertInvalid("""{"w":{"dtype":"F32",""", 0, "not valid JSON");

    [Fact]
    public void HeaderIsNotAnObject() => AssertInvalid("[1,2]   ", 0, "not a JSON object");

    [Fact]
    public void DuplicateTensorName() =>
        AssertInvalid("""{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2, "duplicate key 'w'");

    [Fact]
    public void DuplicateKeyInsideAnEntry() =>
        AssertInvalid("""{"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}""", 1, "duplicate dtype");

    [Fact]
    public void NonStringMetadata() =>
        AssertInvalid("""{"__metadata__":{"epoch":3},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", 1, "not a string");

    [Theory]
    [InlineData("""{"w":{"shape":[1],"data_offsets":[0,1]}}""", "no dtype")]
    [InlineData("""{"w":{"dtype":"U8","data_offsets":[0,1]}}""", "no shape")]
    [InlineData("""{"w":{"dtype":"U8","shape":[1]}}""", "no data_offsets")]
    public void MissingField(string json, string fault) => AssertInvalid(json, 1, fault);

    [Theory]
    [InlineData("""{"w":{"dtype":8,"shape":[1],"data_offsets":[0,1]}}""", "dtype is not a string")]
    [InlineData("""{"w":{"dtype":"U8","shape":"1","data_offsets":[0,1]}}""", "shape is not an array")]
    [InlineData("""{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}""", "other than an integer")]
    [InlineData("""{"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}}""", "not 2")]
    [InlineData("""{"w":[1]}""", "not a JSON object")]
    public void WrongJsonTypes(string json, string fault) => AssertInvalid(json, 1, fault);

    [Fact]
    public void NegativeDimension() =>
        AssertInvalid("""{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}""", 1, "negative dimension");

    [Fact]
    public void BeginAfterEnd() =>
        AssertInvalid("""{"w":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}""", 1, "begin after their end");

    [Fact]
    public void InvalidUtf8InTheHeader()
    {
        var bytes = Build("""{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", [0]);
        bytes[8 + 2] = 0xFF; // the tensor name "w": 8 length bytes, then `{"`
        AssertInvalid(bytes, "header is not valid");
    }

    [Fact]
    public void ControlCharactersInNamesStayOnOneLine() =>
        AssertInvalid("""{"a\nb":{"dtype":"X","shape":[1],"data_offsets":[0,1]}}""", 1, @"'a\u000ab'");
}
