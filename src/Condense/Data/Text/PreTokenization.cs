// Hugging Face tokenizer.json's normalizer and pre-tokenizer for byte-level BPE, as its tokenizers library runs them
// (tokenizers/src/normalizers, tokenizers/src/pre_tokenizers): the passage is normalized (NFC, Lowercase, or a Sequence
// of them), then each pre-tokenizer of the Sequence splits every piece the one before it left:
// - Split: a regex (or a literal string); matches and the text between them become pieces, kept or dropped by behavior
//   (Isolated keeps both, Removed drops the matches, MergedWithPrevious/Next join a match to its neighbour); invert swaps
//   the roles. Llama 3, Qwen 2 and BLOOM split so;
// - Digits: each digit (individual_digits) or each run of digits becomes a piece (SmolLM);
// - ByteLevel: GPT-2's regex split (use_regex) after a space is put before a piece that has none (add_prefix_space).
// BPE then merges each piece on its own. .NET's regex runs the patterns, written for Oniguruma: a class nested in a class
// (BLOOM's [^(\s|[.,!?…])]) is the union, so it is flattened; a pattern .NET still cannot compile is refused.
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Condense.Data.Text;

internal sealed class PreTokenization
{
    // GPT-2's pre-tokenization pattern (encoder.py), which ByteLevel applies when use_regex is true.
    private static readonly Regex Gpt2 = new(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.Compiled);

    private readonly List<Func<string, string>> _normalizers = [];
    private readonly List<Func<string, IEnumerable<string>>> _splits = [];

    /// <summary>True when some step is ByteLevel: the pieces are then bytes mapped to GPT-2's characters.</summary>
    public bool ByteLevel { get; private set; }

    /// <summary>The steps of <paramref name="root"/> (a tokenizer.json); what it cannot run is an <see cref="InvalidFileException"/>.</summary>
    public PreTokenization(JsonElement root, string source)
    {
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object) Normalizer(normalizer, source);
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object) PreTokenizer(pre, source);
    }

    /// <summary>The pieces of <paramref name="passage"/>, normalized and split, in order.</summary>
    public IEnumerable<string> Pieces(string passage)
    {
        foreach (var normalize in _normalizers) passage = normalize(passage);
        IEnumerable<string> pieces = [passage];
        foreach (var split in _splits) pieces = pieces.SelectMany(split).ToList();
        return pieces.Where(p => p.Length > 0);
    }

    private static string Type(JsonElement e) => e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "?";

    private static bool Flag(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.True : fallback;

    private void Normalizer(JsonElement step, string source)
    {
        switch (Type(step))
        {
            case "Sequence":
                foreach (var member in step.GetProperty("normalizers").EnumerateArray()) Normalizer(member, source);
                break;
            // Text is almost always composed already, and .NET under invariant globalization (no ICU) cannot compose it: NFC is
            // taken as what the text is; a decomposed "e" + U+0301 then tokenizes apart where Hugging Face joins it.
            case "NFC": break;
            case "Lowercase": _normalizers.Add(s => s.ToLowerInvariant()); break;
            case var other:
                throw new InvalidFileException(source, $"the normalizer {other} is not supported for byte-level BPE (NFC and Lowercase are)");
        }
    }

    private void PreTokenizer(JsonElement step, string source)
    {
        switch (Type(step))
        {
            case "Sequence":
                foreach (var member in step.GetProperty("pretokenizers").EnumerateArray()) PreTokenizer(member, source);
                break;
            case "ByteLevel":
                ByteLevel = true;
                // Files written before use_regex existed split by the regex; every file states add_prefix_space.
                bool prefix = Flag(step, "add_prefix_space", false), regex = Flag(step, "use_regex", true);
                _splits.Add(piece =>
                {
                    if (prefix && !piece.StartsWith(' ')) piece = " " + piece;
                    return regex ? Split(piece, Gpt2, "Isolated", false) : [piece];
                });
                break;
            case "Digits":
                var digits = new Regex(Flag(step, "individual_digits", false) ? @"\p{N}" : @"\p{N}+", RegexOptions.Compiled);
                _splits.Add(piece => Split(piece, digits, "Isolated", false));
                break;
            case "Split":
                var pattern = SplitPattern(step, source);
                string behavior = step.TryGetProperty("behavior", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString()! : "?";
                if (behavior is not ("Isolated" or "Removed" or "MergedWithPrevious" or "MergedWithNext"))
                    throw new InvalidFileException(source, $"the Split behavior {behavior} is not supported");
                bool invert = Flag(step, "invert", false);
                _splits.Add(piece => Split(piece, pattern, behavior, invert));
                break;
            case var other:
                throw new InvalidFileException(source, $"the pre-tokenizer {other} is not supported for byte-level BPE (Split, Digits and ByteLevel are)");
        }
    }

    private static Regex SplitPattern(JsonElement step, string source)
    {
        if (!step.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
            throw new InvalidFileException(source, "a Split pre-tokenizer has no pattern");
        if (pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String)
            return new Regex(Regex.Escape(literal.GetString()!));
        if (!pattern.TryGetProperty("Regex", out var regex) || regex.ValueKind != JsonValueKind.String)
            throw new InvalidFileException(source, "a Split pre-tokenizer's pattern is neither a Regex nor a String");
        var flat = FlattenNestedClasses(regex.GetString()!)
            ?? throw new InvalidFileException(source, "the Split pattern has a negated or POSIX class inside a class, which .NET's regex cannot read");
        try { return new Regex(flat, RegexOptions.Compiled); }
        catch (ArgumentException e) { throw new InvalidFileException(source, $"the Split pattern does not compile in .NET: {e.Message.Split('\n')[0]}"); }
    }

    // Oniguruma reads [a[bc]] as the union of a and [bc]; .NET reads the inner '[' as a character and the first ']' as the end.
    // Inner brackets of a nested class are dropped; a negated or POSIX class inside a class has no flat form (null).
    internal static string? FlattenNestedClasses(string pattern)
    {
        var flat = new StringBuilder(pattern.Length);
        int depth = 0;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length) { flat.Append(c).Append(pattern[++i]); continue; }
            if (c == '[' && depth > 0) { if (i + 1 < pattern.Length && pattern[i + 1] is '^' or ':') return null; depth++; continue; }
            if (c == '[') depth++;
            else if (c == ']' && depth > 1) { depth--; continue; }
            else if (c == ']' && depth == 1) depth = 0;
            flat.Append(c);
        }
        return flat.ToString();
    }

    // Hugging Face's split_with_behavior: the piece as alternating gaps and matches, matches being the delimiters unless
    // inverted; Isolated keeps every part, Removed drops the delimiters, MergedWith… joins each to its neighbour.
    private static List<string> Split(string piece, Regex pattern, string behavior, bool invert)
    {
        var parts = new List<(string Text, bool Delimiter)>();
        int at = 0;
        foreach (Match m in pattern.Matches(piece))
        {
            if (m.Length == 0) continue;
            if (m.Index > at) parts.Add((piece[at..m.Index], invert));
            parts.Add((m.Value, !invert));
            at = m.Index + m.Length;
        }
        if (at < piece.Length) parts.Add((piece[at..], invert));
        var pieces = new List<string>();
        bool joinNext = false;
        foreach (var (text, delimiter) in parts)
        {
            if (behavior == "Removed" && delimiter) continue;
            if (behavior == "MergedWithPrevious" && delimiter && pieces.Count > 0 && !joinNext) pieces[^1] += text;
            else if (joinNext) { pieces[^1] += text; joinNext = false; }
            else pieces.Add(text);
            if (behavior == "MergedWithNext" && delimiter) joinNext = true;
        }
        return pieces;
    }
}
