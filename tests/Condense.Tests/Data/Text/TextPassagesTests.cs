// Text files as data: passages are the non-blank lines (UTF-8, or UTF-16 with its byte-order mark as Windows editors
// save "Unicode"); binary, non-UTF-8 and empty files are one-line refusals.
using System.Text;
using Condense.Data.Text;

namespace Condense.Tests.Data.Text;

public class TextPassagesTests
{
    [Fact]
    public void PassagesAreTheTrimmedNonBlankLinesAfterAByteOrderMark()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("  first line \r\n\r\n\nsecond — ünïcode\n   \nthird")).ToArray();
        Assert.Equal(["first line", "second — ünïcode", "third"], TextPassages.Parse(bytes, "t.txt"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Utf16WithItsByteOrderMarkReadsAsTheSamePassages(bool bigEndian)
    {
        var encoding = new UnicodeEncoding(bigEndian, byteOrderMark: true);
        var bytes = encoding.GetPreamble().Concat(encoding.GetBytes("  first line \r\n\r\nsecond — ünïcode 🙂\nthird")).ToArray();
        Assert.Equal(["first line", "second — ünïcode 🙂", "third"], TextPassages.Parse(bytes, "t.txt"));
        // A lone surrogate is not text, and neither is a NUL character.
        var broken = encoding.GetPreamble().Concat(bigEndian ? new byte[] { 0xD8, 0x3D, 0x00, 0x61 } : [0x3D, 0xD8, 0x61, 0x00]).ToArray();
        Assert.Contains("not UTF-16 text despite its byte-order mark", Assert.Throws<InvalidFileException>(() => TextPassages.Parse(broken, "t.txt")).Message);
        var nul = encoding.GetPreamble().Concat(encoding.GetBytes("a\0b")).ToArray();
        Assert.Contains("a NUL character", Assert.Throws<InvalidFileException>(() => TextPassages.Parse(nul, "t.txt")).Message);
    }

    [Fact]
    public void BinaryFilesAreRefusedWhereTheNulByteIs()
    {
        var e = Assert.Throws<InvalidFileException>(() => TextPassages.Parse("ab\0c"u8, "model.onnx"));
        Assert.Equal("model.onnx: a binary file, not UTF-8 text (a NUL byte at offset 2)", e.Message);
    }

    [Fact]
    public void InvalidUtf8IsRefusedWithAHint()
    {
        byte[] latin1 = Encoding.Latin1.GetBytes("caf\u00e9 au lait");
        var e = Assert.Throws<InvalidFileException>(() => TextPassages.Parse(latin1, "latin1.txt"));
        Assert.Contains("not UTF-8 text", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n \r\n\t\n")]
    public void FilesWithoutPassagesAreRefused(string text)
    {
        var e = Assert.Throws<InvalidFileException>(() => TextPassages.Parse(Encoding.UTF8.GetBytes(text), "empty.txt"));
        Assert.Equal("empty.txt: no passages: the file is empty or only blank lines", e.Message);
    }

    [Fact]
    public void AMissingFileIsOneLine()
    {
        var e = Assert.Throws<InvalidFileException>(() => TextPassages.Read(Path.Combine(Path.GetTempPath(), "no-such-passages.txt")));
        Assert.StartsWith("no-such-passages.txt: file not found", e.Message);
    }

    [Fact]
    public void JsonLinesFilesGiveTheirTextFields()
    {
        string folder = Directory.CreateTempSubdirectory("condense-jsonl").FullName;
        try
        {
            // What Hugging Face datasets' to_json writes: escapes, other fields, a text with its own line break.
            var rows = new[] { new { id = 1, text = "first \"quoted\" passage" }, new { id = 2, text = "second\nline — ünïcode" } };
            string path = Path.Combine(folder, "corpus.jsonl");
            File.WriteAllLines(path, [.. rows.Select(r => System.Text.Json.JsonSerializer.Serialize(r)), "", """{"sentence": "one string field"}"""]);
            Assert.Equal(["first \"quoted\" passage", "second line — ünïcode", "one string field"], TextPassages.Read(path));
            // The same lines in a .txt file are passages as they stand.
            File.Copy(path, Path.Combine(folder, "corpus.txt"));
            Assert.StartsWith("{", TextPassages.Read(Path.Combine(folder, "corpus.txt"))[0]);

            File.WriteAllLines(path, ["""{"text": "fine"}""", """{"title": "a", "body": "b"}"""]);
            Assert.Equal("corpus.jsonl: JSON line 2 has no \"text\" field (its string fields: title, body)",
                Assert.Throws<InvalidFileException>(() => TextPassages.Read(path)).Message);
            File.WriteAllLines(path, ["""{"text": "fine"}""", "not json"]);
            Assert.StartsWith("corpus.jsonl: JSON line 2 does not parse", Assert.Throws<InvalidFileException>(() => TextPassages.Read(path)).Message);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void TheShippedFortunesHave431Passages() =>
        Assert.Equal(431, TextPassages.Read(TestFiles.Fortunes).Count);
}
