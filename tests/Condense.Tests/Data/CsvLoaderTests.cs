using Condense.Data;

namespace Condense.Tests.Data;

public class CsvLoaderTests
{
    [Fact]
    public void HeaderIsDetected()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("a.csv"), "label,p0,p1\n3,0,255\n1,51,102\n\n");
        var data = CsvLoader.Load(tmp.File("a.csv"), new CsvOptions { FeatureScale = 1f / 255f });
        Assert.Equal([3, 1], data.Labels!);
        Assert.Equal([0f, 255 * (1f / 255f), 51 * (1f / 255f), 102 * (1f / 255f)], data.Features);
        Assert.Equal([2], data.SampleShape);
        Assert.Equal("a", data.Name);
    }

    [Fact]
    public void NoHeaderLabelLastAndOtherDelimiter()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("b.csv"), "0.5; -1e-2; 1.25; 2\r\n4;5;6;0\r\n");
        var data = CsvLoader.Load(tmp.File("b.csv"), new CsvOptions { LabelColumn = -1, Delimiter = ';', SampleShape = [1, 3] });
        Assert.Equal([2, 0], data.Labels!);
        Assert.Equal([0.5f, -0.01f, 1.25f, 4f, 5f, 6f], data.Features);
        Assert.Equal([1, 3], data.SampleShape);
    }

    [Fact]
    public void ForcedHeaderSkipsANumericFirstLine()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("c.csv"), "0,1,2\n1,9,9\n");
        Assert.Equal(1, CsvLoader.Load(tmp.File("c.csv"), new CsvOptions { HasHeader = true }).Count);
        Assert.Equal(2, CsvLoader.Load(tmp.File("c.csv")).Count);
    }

    [Theory]
    [InlineData("label,a,b\n1,2,3\n1,2\n", "line 3: expected 3 values, found 2")]
    [InlineData("1,2,3\n1,2,3\n1,2,x3\n", "line 3, column 3: 'x3' is not a finite number")]
    [InlineData("1,2,3\n1,NaN,3\n", "line 2, column 2: 'NaN' is not a finite number")]
    [InlineData("1,2,3\n-1,2,3\n", "line 2, column 1: label '-1' is not a non-negative integer")]
    [InlineData("1.5,2,3\n", "line 1, column 1: label '1.5' is not a non-negative integer")]
    [InlineData("1,2,3\n1,2,3,4\n", "line 2: expected 3 values, found 4")]
    [InlineData("", "file is empty")]
    [InlineData("\n  \n", "file is empty")]
    [InlineData("label,x\n", "no data rows after the header")]
    [InlineData("7\n", "line 1: expected a label and at least one feature, found 1 value")]
    public void BadFilesNameLineAndFault(string text, string fault)
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("bad.csv"), text);
        var e = Assert.Throws<InvalidFileException>(() => CsvLoader.Load(tmp.File("bad.csv")));
        TestFiles.AssertOneLine(e, "bad.csv: " + fault);
    }

    [Fact]
    public void BadOptionsAreReportedAgainstTheFile()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("d.csv"), "1,2,3\n");
        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => CsvLoader.Load(tmp.File("d.csv"), new CsvOptions { LabelColumn = 5 })),
            "d.csv: label column 5 does not exist (rows have 3 values)");
        TestFiles.AssertOneLine(Assert.Throws<InvalidFileException>(() => CsvLoader.Load(tmp.File("d.csv"), new CsvOptions { SampleShape = [1, 3] })),
            "d.csv: sample shape [1, 3] needs 3 features, rows have 2");
    }
}
