using System.Buffers.Binary;
using System.IO.Compression;
using Condense.Data;

namespace Condense.Tests.Data;

public class IdxReaderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RoundTripsEveryType(bool gzip)
    {
        using var tmp = new TempDir();
        // Hand-made big-endian payloads for the types IdxArray has no factory for.
        var arrays = new[]
        {
            IdxArray.FromBytes([0, 1, 127, 128, 255, 7], 2, 3),
            new IdxArray(IdxDataType.SByte, [3], [0xFF, 0x80, 0x05]),
            new IdxArray(IdxDataType.Short, [2], [0xFF, 0xFE, 0x01, 0x00]),
            IdxArray.FromInts([-5, 0, int.MaxValue, 42, 1, 2, 3], 7),
            IdxArray.FromFloats([1.5f, -2.25f, 0f, float.Epsilon], 1, 2, 1, 2),
            new IdxArray(IdxDataType.Double, [1], BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(BitConverter.DoubleToInt64Bits(-0.125)))),
        };
        var expected = new[]
        {
            new float[] { 0, 1, 127, 128, 255, 7 }, [-1, -128, 5], [-2, 256],
            [-5, 0, int.MaxValue, 42, 1, 2, 3], [1.5f, -2.25f, 0f, float.Epsilon], [-0.125f],
        };
        for (int i = 0; i < arrays.Length; i++)
        {
            string path = tmp.File($"a{i}.idx");
            IdxWriter.Write(path, arrays[i], gzip);
            Assert.Equal(gzip, File.ReadAllBytes(path)[0] == 0x1F);
            var read = IdxReader.Read(path);
            Assert.Equal(arrays[i].Type, read.Type);
            Assert.Equal(arrays[i].Dims, read.Dims);
            Assert.Equal(arrays[i].Data, read.Data);
            Assert.Equal(expected[i], read.ToFloat());
        }
        Assert.Equal([-5, 0, int.MaxValue, 42, 1, 2, 3], IdxReader.Read(tmp.File("a3.idx")).ToInt());
        Assert.Equal(arrays.Length, Directory.GetFiles(tmp.Path).Length); // atomic writes leave no temp files
    }

    [Fact]
    public void GzipIsDetectedByContentNotExtension()
    {
        using var tmp = new TempDir();
        IdxWriter.Write(tmp.File("zipped.plain"), IdxArray.FromBytes([1, 2, 3], 3), gzip: true);
        IdxWriter.Write(tmp.File("plain.gz"), IdxArray.FromBytes([4, 5], 2));
        Assert.Equal([1, 2, 3], IdxReader.Read(tmp.File("zipped.plain")).AsBytes());
        Assert.Equal([4, 5], IdxReader.Read(tmp.File("plain.gz")).AsBytes());
    }

    [Fact]
    public void WrongMagicIsRejected()
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("x.idx"), [0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0]);
        var e = Assert.Throws<InvalidFileException>(() => IdxReader.Read(tmp.File("x.idx")));
        TestFiles.AssertOneLine(e, "x.idx: ", "wrong magic number 0x504B0304, not an IDX file");
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0x0A, 1 }, "unknown data type 0x0A")]
    [InlineData(new byte[] { 0, 0, 0x08, 0 }, "rank 0 is not supported")]
    [InlineData(new byte[] { 0, 0, 0x08, 5 }, "rank 5 is not supported")]
    [InlineData(new byte[] { 0, 0, 0x08 }, "truncated header: expected a 4-byte magic number, found 3 bytes")]
    [InlineData(new byte[] { 0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0 }, "truncated header: expected 12 bytes of dimensions, found 6")]
    [InlineData(new byte[] { 0, 0, 0x08, 1, 0xFF, 0xFF, 0xFF, 0xFF }, "dimension 0 is negative (-1)")]
    [InlineData(new byte[] { 0, 0, 0x08, 1, 0, 0, 0, 2, 7, 8, 9 }, "1 unexpected bytes after the 2 bytes of data")]
    public void BadHeadersAreRejected(byte[] bytes, string fault)
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("bad-idx1-ubyte"), bytes);
        var e = Assert.Throws<InvalidFileException>(() => IdxReader.Read(tmp.File("bad-idx1-ubyte")));
        TestFiles.AssertOneLine(e, "bad-idx1-ubyte: ", fault);
    }

    [Fact]
    public void TruncatedRealFileIsRejected()
    {
        using var tmp = new TempDir();
        byte[] labels = TestFiles.Gunzip(Path.Combine(TestFiles.MnistDir, "test-labels-idx1-ubyte.gz"));
        File.WriteAllBytes(tmp.File("cut-labels"), labels[..1000]);
        var e = Assert.Throws<InvalidFileException>(() => IdxReader.Read(tmp.File("cut-labels")));
        TestFiles.AssertOneLine(e, "cut-labels: truncated: expected 2000 bytes of data, found 992");

        // The same cut, gzipped: the length is unknown up front, so the shortfall is found while reading.
        using (var zip = new GZipStream(File.Create(tmp.File("cut-labels.gz")), CompressionLevel.Fastest))
            zip.Write(labels, 0, 1000);
        e = Assert.Throws<InvalidFileException>(() => IdxReader.Read(tmp.File("cut-labels.gz")));
        TestFiles.AssertOneLine(e, "cut-labels.gz: truncated: expected 2000 bytes of data, found 992");
    }

    [Fact]
    public void CutGzipStreamIsRejected()
    {
        using var tmp = new TempDir();
        byte[] gz = File.ReadAllBytes(Path.Combine(TestFiles.MnistDir, "test-labels-idx1-ubyte.gz"));
        File.WriteAllBytes(tmp.File("cut.gz"), gz[..(gz.Length / 2)]);
        var e = Assert.Throws<InvalidFileException>(() => IdxReader.Read(tmp.File("cut.gz")));
        TestFiles.AssertOneLine(e, "cut.gz: truncated: expected 2000 bytes of data, found");
    }

    [Fact]
    public void CorruptGzipIsRejected()
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("junk.gz"), [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        var e = Assert.Throws<InvalidFileException>(() => IdxReader.Read(tmp.File("junk.gz")));
        TestFiles.AssertOneLine(e, "junk.gz: corrupt gzip data");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HugeClaimsFailFastWithoutAllocating(bool gzip)
    {
        using var tmp = new TempDir();
        // 2^31 ubyte elements: more than any array can hold.
        byte[] over = [0, 0, 0x08, 2, 0, 1, 0, 0, 0, 0, 0x80, 0, 1, 2, 3];
        // 1000 × 1000 × 250 floats (10^9 bytes) fit the limit on paper, but the file holds 3 bytes of data.
        byte[] under = [0, 0, 0x0D, 3, 0, 0, 0x03, 0xE8, 0, 0, 0x03, 0xE8, 0, 0, 0, 0xFA, 1, 2, 3];
        WriteRaw(tmp.File("over"), over, gzip);
        WriteRaw(tmp.File("under"), under, gzip);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e1 = Assert.Throws<InvalidFileException>(() => IdxReader.Read(tmp.File("over")));
        var e2 = Assert.Throws<InvalidFileException>(() => IdxReader.Read(tmp.File("under")));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        TestFiles.AssertOneLine(e1, "over: dimensions [65536, 32768] of UByte are too large");
        TestFiles.AssertOneLine(e2, "under: truncated: expected 1000000000 bytes of data, found 3");
        Assert.True(allocated < 16 << 20, $"allocated {allocated} bytes");
    }

    private static void WriteRaw(string path, byte[] bytes, bool gzip)
    {
        using var file = File.Create(path);
        if (!gzip) { file.Write(bytes); return; }
        using var zip = new GZipStream(file, CompressionLevel.Fastest);
        zip.Write(bytes);
    }
}
