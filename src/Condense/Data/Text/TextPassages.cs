// Text as data: a UTF-8 file of passages, one per line, blank lines skipped. A file that is not text is refused in
// one line: a NUL byte means binary, bytes that do not decode mean another encoding, and a file with no passage is
// empty. A UTF-8 byte-order mark is allowed and dropped; one of UTF-16 (little- or big-endian) says the file is UTF-16.
// A .jsonl (.ndjson) file — how Hugging Face datasets and most corpora are exported — holds one JSON object per line,
// whose passage is its "text" field (JsonLines).
using System.Text;

namespace Condense.Data.Text;

/// <summary>Reads the passages of a text file.</summary>
public static class TextPassages
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The non-blank lines of <paramref name="path"/>, trimmed, in order.</summary>
    /// <exception cref="InvalidFileException">The file is missing, binary, not UTF-8, or has no passage.</exception>
    public static IReadOnlyList<string> Read(string path)
    {
        byte[] bytes;
        using (var stream = DataFile.OpenRead(path))
        {
            if (stream.Length > DataFile.MaxBytes) throw new InvalidFileException(path, "text file larger than 2 GB");
            bytes = new byte[stream.Length];
            if (DataFile.ReadUpTo(stream, bytes) != bytes.Length) throw new InvalidFileException(path, "file changed while it was read");
        }
        var lines = Parse(bytes, path);
        return Path.GetExtension(path).ToLowerInvariant() is ".jsonl" or ".ndjson" ? JsonLines.Texts(lines, path) : lines;
    }

    /// <summary>The passages of UTF-8 <paramref name="bytes"/>; <paramref name="source"/> names them in errors.</summary>
    public static IReadOnlyList<string> Parse(ReadOnlySpan<byte> bytes, string source)
    {
        string text;
        // UTF-16 with its byte-order mark (what Windows editors save as "Unicode") is text too, NUL bytes and all.
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            var utf16 = new UnicodeEncoding(bigEndian: bytes[0] == 0xFE, byteOrderMark: false, throwOnInvalidBytes: true);
            try { text = utf16.GetString(bytes[2..]); }
            catch (DecoderFallbackException e)
            {
                throw new InvalidFileException(source, $"not UTF-16 text despite its byte-order mark (invalid at offset {e.Index + 2}); save it as UTF-8");
            }
            if (text.Contains('\0')) throw new InvalidFileException(source, "a binary file, not UTF-16 text (a NUL character)");
        }
        else
        {
            int nul = bytes.IndexOf((byte)0);
            if (nul >= 0) throw new InvalidFileException(source, $"a binary file, not UTF-8 text (a NUL byte at offset {nul})");
            if (bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
            try { text = StrictUtf8.GetString(bytes); }
            catch (DecoderFallbackException e)
            {
                throw new InvalidFileException(source, $"not UTF-8 text (an invalid byte sequence at offset {e.Index}); save it as UTF-8");
            }
        }
        var passages = text.Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0).ToList();
        if (passages.Count == 0) throw new InvalidFileException(source, "no passages: the file is empty or only blank lines");
        return passages;
    }

    /// <summary>
    /// The first half of <paramref name="passages"/> to calibrate on and the second to measure on, when no calibration
    /// passages of their own are given; <paramref name="source"/> names the file in the error for fewer than 4.
    /// </summary>
    public static (IReadOnlyList<string> Calibration, IReadOnlyList<string> Evaluation) Halves(IReadOnlyList<string> passages, string source)
    {
        if (passages.Count < 4)
            throw new CondenseException($"{Path.GetFileName(source)}: {passages.Count} passages; at least 4 are needed to calibrate on half and "
                + "measure on the other half (or calibration passages of their own)");
        return (passages.Take(passages.Count / 2).ToList(), passages.Skip(passages.Count / 2).ToList());
    }
}
