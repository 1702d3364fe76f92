// The faults the reader fuzzer found, each as its smallest file: every one must now be a one-line
// InvalidFileException naming the file, allocating nothing near what a corrupt header claims. Image cases are
// rebuilt from their case seed (FuzzHarness.Mutate), as the fuzzer found them.
using Condense.Formats;
using Condense.Fuzzing;
using Condense.Data;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Formats;
using Google.Protobuf;
using Onnx;

namespace Condense.Tests.Fuzzing;

public sealed class FuzzFindingsTests : IDisposable
{
    private readonly ScratchDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static InvalidFileException AssertFileError(Action read, string fault, long maxAllocated = 16 << 20)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidFileException>(read);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < maxAllocated, "allocated too much");
        Assert.Contains(fault, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    private string Onnx(Action<ModelProto> corrupt)
    {
        var model = OnnxExporter.ToModel(GraphTracer.Trace(ModelSpec.Parse("mlp:4-3-2").Build(1), [4]));
        corrupt(model);
        string path = _dir.File("model.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    [Fact]
    public void OnnxImportFaultsWithoutAFileNameBecomeFileErrors()
    {
        // Found as CondenseException: an op name with one byte flipped, a graph with its inputs and outputs cut off.
        AssertFileError(() => ModelFile.Load(Onnx(m => m.Graph.Node.First(n => n.OpType == "Gemm").OpType = "GeMm")),
            "model.onnx: unsupported op 'GeMm'");
        AssertFileError(() => ModelFile.Load(Onnx(m => { m.Graph.Input.Clear(); m.Graph.Output.Clear(); m.Graph.Node.Clear(); })), "at least one output");
        var undefined = AttributeProto.Types.AttributeType.Undefined;
        AssertFileError(() => ModelFile.Load(Onnx(m => m.Graph.Node.First(n => n.OpType == "Gemm").Attribute[0].Type = undefined)), "is not supported");
    }

    [Fact]
    public void OnnxTensorDimsAreCheckedAgainstItsDataBeforeAllocating()
    {
        // One dimension made huge: 2^30 floats (4 GiB) were allocated before the raw data length was compared.
        AssertFileError(() => ModelFile.Load(Onnx(m => { var t = m.Graph.Initializer[0]; t.Dims.Clear(); t.Dims.Add(1 << 30); })), "bytes of raw data");
        // Four dimensions of 2^16 multiply to 2^64, which wrapped to 0 elements.
        AssertFileError(() => ModelFile.Load(Onnx(m => { var t = m.Graph.Initializer[0]; t.Dims.Clear(); t.Dims.Add([65536, 65536, 65536, 65536]); })),
            "too large");
    }

    [Fact]
    public void FaultsQuotingTheFileStayOneLine()
    {
        // An NPY header key with a line break in it was quoted into a two-line message.
        string path = _dir.File("key.npy");
        Npy.Write(path, [1f, 2f], [2]);
        var bytes = File.ReadAllBytes(path);
        bytes[Array.IndexOf(bytes, (byte)'d') + 2] = (byte)'\n';
        File.WriteAllBytes(path, bytes);
        AssertFileError(() => Npy.Read(path), "unexpected key");
        Assert.Equal("a b", new InvalidFileException("x\ny", "a\r\nb").Fault);
    }

    private string Sparse(string storage, params SafeTensorEntry[] entries)
    {
        string path = _dir.File("sparse.safetensors");
        SafeTensors.Write(path, entries, new Dictionary<string, string> { [SparseStorage.MetadataKey] = storage });
        return path;
    }

    [Fact]
    public void CsrRowStartsPastTheValuesAreAFileError()
    {
        // Row starts [0, 5, 2]: the last fits the values, the middle one ran past them (IndexOutOfRangeException).
        string path = Sparse("{\"w\":{\"Format\":\"csr\",\"Shape\":[2,3]}}",
            SafeTensorEntry.FromFloat("w.__csr_values", new Tensor([1f, 2f], 2)),
            SafeTensorEntry.FromBytes("w.__csr_indices", SafeTensorDType.U16, [2], [0, 0, 1, 0]),
            SafeTensorEntry.FromInt32("w.__csr_rows", [0, 5, 2], 3));
        AssertFileError(() => SparseStorage.Decode(SafeTensors.Read(path)), "row starts");
    }

    [Fact]
    public void SparseShapesAreCheckedBeforeAllocating()
    {
        // A CSR matrix of one empty row stores 8 bytes whatever its width: a width of 2e9 would allocate 8 GB.
        string csr = Sparse("{\"w\":{\"Format\":\"csr\",\"Shape\":[1,2000000000]}}",
            SafeTensorEntry.FromFloat("w.__csr_values", new Tensor([], 0)),
            SafeTensorEntry.FromBytes("w.__csr_indices", SafeTensorDType.U16, [0], []),
            SafeTensorEntry.FromInt32("w.__csr_rows", [0, 0], 2));
        AssertFileError(() => SparseStorage.Decode(SafeTensors.Read(csr)), "far larger than the stored CSR arrays");
        string bitmap = Sparse("{\"w\":{\"Format\":\"bitmap\",\"Shape\":[100000,100000]}}",
            SafeTensorEntry.FromUInt8("w.__bitmap", [1], 1), SafeTensorEntry.FromFloat("w.__values", new Tensor([1f], 1)));
        AssertFileError(() => SparseStorage.Decode(SafeTensors.Read(bitmap)), "too large");
        string negative = Sparse("{\"w\":{\"Format\":\"bitmap\",\"Shape\":[-8]}}",
            SafeTensorEntry.FromUInt8("w.__bitmap", [1], 1), SafeTensorEntry.FromFloat("w.__values", new Tensor([1f], 1)));
        AssertFileError(() => SparseStorage.Decode(SafeTensors.Read(negative)), "negative dimension");
    }

    [Fact]
    public void SparsePartsOfTheWrongDtypeAreFileErrors()
    {
        // A bitmap stored as I8 threw the entry's own CondenseException, without the file's name.
        string path = Sparse("{\"w\":{\"Format\":\"bitmap\",\"Shape\":[3]}}",
            SafeTensorEntry.FromInt8("w.__bitmap", [1], 1), SafeTensorEntry.FromFloat("w.__values", new Tensor([1f], 1)));
        AssertFileError(() => SparseStorage.Decode(SafeTensors.Read(path)), "sparse.safetensors: tensor 'w.__bitmap' has dtype I8");
    }

    [Fact]
    public void OnnxStreamReaderChecksLengthsAfterAVarintRanPastItsMessage()
    {
        // Found in OnnxStreamReader's first version: a tag that ran past its tensor's end made the length check negative,
        // hence passed (an OverflowException allocating floats, and a 1 GB allocation for a 1.6 KB file).
        var target = FuzzTargets.Create("onnx", _dir.Path);
        foreach (int caseSeed in new[] { 1010257, 1013296, 1029580 })
        {
            string path = _dir.File($"case{caseSeed}.onnx");
            File.WriteAllBytes(path, FuzzHarness.Mutate(target, caseSeed).Bytes);
            AssertFileError(() => target.Read(path), "not a valid ONNX model");
        }
    }

    [Fact]
    public void ImageDecoderFaultsAndHugeHeadersAreFileErrors()
    {
        // Found as NullReferenceException in ImageSharp's JPEG decoder and DivideByZeroException in its PBM decoder.
        var target = FuzzTargets.Create("image", _dir.Path);
        foreach (int caseSeed in new[] { 1000295, 1001535 })
        {
            string path = _dir.File($"case{caseSeed}.png");
            File.WriteAllBytes(path, FuzzHarness.Mutate(target, caseSeed).Bytes);
            AssertFileError(() => target.Read(path), "cannot decode image");
        }
        // A 2×2 BMP whose header claims 20,000 × 20,000 pixels: refused from the header, before the 1.2 GB raster is allocated.
        using var image = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.Rgb24>(2, 2);
        using var buffer = new MemoryStream();
        SixLabors.ImageSharp.ImageExtensions.SaveAsBmp(image, buffer);
        var bytes = buffer.ToArray();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(18), 20_000);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(22), 20_000);
        string bomb = _dir.File("bomb.bmp");
        File.WriteAllBytes(bomb, bytes);
        AssertFileError(() => target.Read(bomb), "bomb.bmp: cannot decode image: 20000×20000 is more than 178,956,970 pixels");
    }
}
