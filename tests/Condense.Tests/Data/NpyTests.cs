using System.Text;
using Condense.Data;

namespace Condense.Tests.Data;

public class NpyTests
{
    [Fact]
    public void RoundTripsFloat32UInt8AndInt64()
    {
        using var tmp = new TempDir();
        float[] floats = [1.5f, -2f, 0f, float.MaxValue, 1e-30f, 7f];
        Npy.Write(tmp.File("f.npy"), floats, [2, 3]);
        Npy.Write(tmp.File("b.npy"), new byte[] { 0, 1, 255 }, [3]);
        Npy.Write(tmp.File("l.npy"), new long[] { -1, 0, int.MaxValue, 5 }, [2, 1, 2]);

        var f = Npy.Read(tmp.File("f.npy"));
        Assert.Equal(NpyDtype.Float32, f.Dtype);
        Assert.Equal([2, 3], f.Shape);
        Assert.Equal(floats, f.ToFloat());
        var b = Npy.Read(tmp.File("b.npy"));
        Assert.Equal(NpyDtype.UInt8, b.Dtype);
        Assert.Equal([3], b.Shape);
        Assert.Equal([0, 1, 255], b.ToInt());
        var l = Npy.Read(tmp.File("l.npy"));
        Assert.Equal(NpyDtype.Int64, l.Dtype);
        Assert.Equal([2, 1, 2], l.Shape);
        Assert.Equal([-1, 0, int.MaxValue, 5], l.ToInt());
    }

    [Fact]
    public void WritesTheVersion1LayoutNumpyWrites()
    {
        using var tmp = new TempDir();
        Npy.Write(tmp.File("a.npy"), new float[] { 1, 2, 3 }, [3]);
        byte[] bytes = File.ReadAllBytes(tmp.File("a.npy"));
        Assert.Equal([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 118, 0], bytes[..10]);
        string header = Encoding.Latin1.GetString(bytes, 10, 118);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", header);
        Assert.EndsWith(" \n", header);
        Assert.Equal(128 + 12, bytes.Length); // data starts on a 64-byte boundary
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ReadsHandcraftedVersion2And3Headers(int major)
    {
        using var tmp = new TempDir();
        // Double quotes, no trailing comma, odd spacing and a 4-byte header length.
        string header = "{\"shape\": (2,2), \"fortran_order\": False, \"descr\": '<i4'}\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0 };
        bytes.AddRange(BitConverter.GetBytes((uint)header.Length));
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        foreach (int v in new[] { 1, -2, 3, 400000 }) bytes.AddRange(BitConverter.GetBytes(v));
        File.WriteAllBytes(tmp.File("v2.npy"), bytes.ToArray());

        var a = Npy.Read(tmp.File("v2.npy"));
        Assert.Equal(NpyDtype.Int32, a.Dtype);
        Assert.Equal([2, 2], a.Shape);
        Assert.Equal([1, -2, 3, 400000], a.ToInt());
        Assert.Equal([1f, -2f, 3f, 400000f], a.ToFloat());
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", "Fortran-order arrays are not supported")]
    [InlineData("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", "unsupported dtype '<c8'")]
    [InlineData("{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", "unsupported dtype '>f4'")]
    [InlineData("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (3,), }", "structured arrays are not supported")]
    [InlineData("{'descr': '<f4', 'shape': (3,), }", "header lacks one of")]
    [InlineData("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }", "malformed header at character 34: expected True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", "negative dimension -3")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }", "shape [65536, 65536] of Float32 is too large")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", "truncated: expected 16 bytes of data, found 12")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "4 unexpected bytes after the 8 bytes of data")]
    public void BadHeadersAreRejected(string header, string fault)
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("bad.npy"), [.. Version1(header), .. new byte[12]]);
        var e = Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("bad.npy")));
        TestFiles.AssertOneLine(e, "bad.npy: ", fault);
    }

    [Fact]
    public void TruncatedFilesAreRejected()
    {
        using var tmp = new TempDir();
        Npy.Write(tmp.File("full.npy"), new float[100], [10, 10]);
        byte[] bytes = File.ReadAllBytes(tmp.File("full.npy"));
        File.WriteAllBytes(tmp.File("cut.npy"), bytes[..300]);
        File.WriteAllBytes(tmp.File("cuthead.npy"), bytes[..40]);
        File.WriteAllBytes(tmp.File("stub.npy"), bytes[..4]);

        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("cut.npy"))),
            "cut.npy: truncated: expected 400 bytes of data, found 172");
        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("cuthead.npy"))),
            "cuthead.npy: truncated header: expected 118 bytes, found 30");
        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("stub.npy"))),
            "stub.npy: truncated header: 4 bytes, not a .npy file");
    }

    [Fact]
    public void OtherFilesAreRejected()
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("a.npz"), [(byte)'P', (byte)'K', 3, 4, 0, 0, 0, 0]);
        File.WriteAllText(tmp.File("a.txt"), "hello, world");
        var huge = new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 0, 0, 0, 0x40 };
        File.WriteAllBytes(tmp.File("huge.npy"), huge);
        File.WriteAllBytes(tmp.File("v9.npy"), [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 9, 0]);

        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("a.npz"))), "a.npz: is a .npz archive");
        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("a.txt"))), "a.txt: wrong magic bytes");
        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("huge.npy"))), "huge.npy: header of 1073741824 bytes is too long");
        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("v9.npy"))), "v9.npy: unsupported .npy format version 9.0");
        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => Npy.Read(tmp.File("none.npy"))), "none.npy: file not found");
    }

    [Fact]
    public void NpyDatasetBuildsFeaturesAndLabels()
    {
        using var tmp = new TempDir();
        Npy.Write(tmp.File("x.npy"), Enumerable.Range(0, 12).Select(i => (byte)(i * 20)).ToArray(), [3, 1, 2, 2]);
        Npy.Write(tmp.File("y.npy"), new long[] { 2, 0, 1 }, [3]);
        var data = NpyDataset.Load(tmp.File("x.npy"), tmp.File("y.npy"), featureScale: 1f / 220f);
        Assert.Equal((3, 4, 3), (data.Count, data.FeatureSize, data.NumClasses));
        Assert.Equal([1, 2, 2], data.SampleShape);
        Assert.Equal([2, 0, 1], data.Labels!);
        Assert.Equal(1f, data.Features[11], 6);

        var unlabelled = NpyDataset.Load(tmp.File("x.npy"), null);
        Assert.Null(unlabelled.Labels);
        Assert.Equal(220f, unlabelled.Features[11]);
    }

    [Fact]
    public void NpyDatasetRejectsBadLabels()
    {
        using var tmp = new TempDir();
        Npy.Write(tmp.File("x.npy"), new float[6], [3, 2]);
        Npy.Write(tmp.File("short.npy"), new long[] { 1, 2 }, [2]);
        Npy.Write(tmp.File("neg.npy"), new long[] { 1, -2, 0 }, [3]);
        Npy.Write(tmp.File("big.npy"), new long[] { 1, 1L << 40, 0 }, [3]);
        Npy.Write(tmp.File("float.npy"), new float[3], [3]);
        Npy.Write(tmp.File("rank2.npy"), new long[3], [3, 1]);

        string Fail(string labels) => Assert.ThrowsAny<CondenseException>(() => NpyDataset.Load(tmp.File("x.npy"), tmp.File(labels))).Message;
        Assert.Equal("x.npy has 3 samples but short.npy has 2 labels", Fail("short.npy"));
        Assert.Equal("neg.npy: label 1 is negative (-2)", Fail("neg.npy"));
        Assert.Equal("big.npy: label element 1 (1099511627776) does not fit in an int32", Fail("big.npy"));
        Assert.Equal("float.npy: labels must be int64, int32 or uint8, found Float32", Fail("float.npy"));
        Assert.Equal("rank2.npy: labels must be rank 1, found shape [3, 1]", Fail("rank2.npy"));
    }

    // A version 1.0 file prefix: magic, version, 2-byte header length, header.
    private static byte[] Version1(string header) =>
        [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0, .. Encoding.ASCII.GetBytes(header)];
}
