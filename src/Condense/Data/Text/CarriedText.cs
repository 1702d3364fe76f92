// A tokenizer file carried in a saved model's metadata is gzip-compressed and base64-encoded when large: XLM-R's
// tokenizer.json is 17 MB of JSON (250,002 pieces with scores), an eighth of the int8 model it would ride in. Measured
// here: GPT-2's vocab.json 1,042 KB → 459 KB, the Unigram fixture (mostly a base64 character map) 346 KB → 236 KB.
// Small tables stay plain text, readable in any ONNX viewer.
using System.IO.Compression;
using System.Text;

namespace Condense.Data.Text;

internal static class CarriedText
{
    private const string Prefix = "gzip+base64:";
    private const int PlainLimit = 64 * 1024;

    /// <summary>The text as stored: itself when short, else compressed behind a prefix.</summary>
    public static string Pack(string text)
    {
        if (text.Length <= PlainLimit) return text;
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true)) gzip.Write(Encoding.UTF8.GetBytes(text));
        return Prefix + Convert.ToBase64String(buffer.ToArray());
    }

    /// <summary>The text <see cref="Pack"/> stored; <paramref name="source"/> names the model in errors.</summary>
    public static string Unpack(string stored, string source)
    {
        if (!stored.StartsWith(Prefix, StringComparison.Ordinal)) return stored;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(Convert.FromBase64String(stored[Prefix.Length..])), CompressionMode.Decompress);
            using var reader = new StreamReader(gzip, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException)
        {
            throw new InvalidFileException(source, "the tokenizer it carries is not valid compressed text");
        }
    }
}
