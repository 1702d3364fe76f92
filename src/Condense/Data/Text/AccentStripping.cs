// BERT's uncased tokenizers strip accents from each lower-cased word (Devlin et al. 2019; Hugging Face's
// BasicTokenizer._run_strip_accents and BertNormalizer: NFD, then every non-spacing mark removed), so "Café" is
// "cafe" and "Zürich" is "zurich" — words the vocabulary holds, where the accented forms would be [UNK]. Condense runs
// with invariant globalization (no ICU), where string.Normalize leaves non-ASCII text as it is, so the decomposition
// comes from a table made from Unicode's data (data/unicode/accent-bases.txt, embedded) and the Hangul formula (Unicode
// §3.12); marks are found by .NET's own Unicode categories.
using System.Globalization;
using System.Text;

namespace Condense.Data.Text;

internal static class AccentStripping
{
    private static readonly Lazy<Dictionary<int, string>> Bases = new(Load);

    /// <summary><paramref name="text"/> in canonical decomposition without its non-spacing marks.</summary>
    public static string Strip(string text)
    {
        if (Ascii.IsValid(text)) return text;
        var bases = Bases.Value;
        var stripped = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            int code = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                ? char.ConvertToUtf32(text[i], text[++i]) : text[i];
            if (CharUnicodeInfo.GetUnicodeCategory(code) == UnicodeCategory.NonSpacingMark) continue;
            if (code is >= HangulFirst and <= HangulLast) AppendJamo(stripped, code - HangulFirst);
            else if (bases.TryGetValue(code, out var decomposed)) stripped.Append(decomposed);
            else if (code > char.MaxValue) stripped.Append(char.ConvertFromUtf32(code));
            else stripped.Append((char)code);
        }
        return stripped.ToString();
    }

    private const int HangulFirst = 0xAC00, HangulLast = 0xD7A3;

    // A Hangul syllable is leading consonant, vowel and (maybe) trailing consonant jamo: S = 0xAC00 + (L·21 + V)·28 + T.
    private static void AppendJamo(StringBuilder to, int index)
    {
        to.Append((char)(0x1100 + index / (21 * 28))).Append((char)(0x1161 + index % (21 * 28) / 28));
        if (index % 28 != 0) to.Append((char)(0x11A7 + index % 28));
    }

    private static Dictionary<int, string> Load()
    {
        using var stream = typeof(AccentStripping).Assembly.GetManifestResourceStream("Condense.Data.Text.accent-bases.txt")
            ?? throw new InvalidOperationException("the accent table is not embedded in the assembly");
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var bases = new Dictionary<int, string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.StartsWith('#') || line.Length == 0) continue;
            var codes = line.Split(' ').Select(h => int.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
            bases[codes[0]] = string.Concat(codes.Skip(1).Select(char.ConvertFromUtf32));
        }
        return bases;
    }
}
