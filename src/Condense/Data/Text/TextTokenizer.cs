// BERT WordPiece tokenization (Microsoft.ML.Tokenizers' BertTokenizer) of passages into the inputs a BERT-family
// encoder takes: [CLS] tokens [SEP], truncated to a maximum length (the tokens past max − 2 are dropped, as Hugging
// Face's truncation does), and batches padded to their longest passage (dynamic padding) with the attention mask and
// zero token types. Lower-casing follows the vocabulary: an uncased vocabulary (no upper-case word) lower-cases.
using Condense.Tensors;
using Microsoft.ML.Tokenizers;

namespace Condense.Data.Text;

/// <summary>One batch of tokenized passages as int64 tensors [batch, length].</summary>
/// <param name="InputIds">The token ids, padded with the padding id.</param>
/// <param name="AttentionMask">1 for tokens, 0 for padding.</param>
/// <param name="TokenTypeIds">Zeros: one segment per passage.</param>
public sealed record TextBatch(Tensor InputIds, Tensor AttentionMask, Tensor TokenTypeIds)
{
    /// <summary>The passages in the batch.</summary>
    public int Count => InputIds.Shape[0];

    /// <summary>
    /// The batch as a model's named inputs: each int64 input is fed by its role — ids (input_ids, ids), mask
    /// (attention_mask, input_mask, mask) or token types (token_type_ids, segment_ids); any other input is an error.
    /// </summary>
    public Dictionary<string, Tensor> Feed(IEnumerable<string> inputNames)
    {
        var feed = new Dictionary<string, Tensor>();
        foreach (var name in inputNames)
        {
            string key = name.ToLowerInvariant();
            feed[name] = key.Contains("mask", StringComparison.Ordinal) ? AttentionMask
                : key.Contains("type", StringComparison.Ordinal) || key.Contains("segment", StringComparison.Ordinal) ? TokenTypeIds
                : key.Contains("id", StringComparison.Ordinal) ? InputIds
                : throw new CondenseException($"the model's input '{name}' is not token ids, an attention mask or token types; "
                    + "text feeds input_ids, attention_mask and token_type_ids");
        }
        return feed;
    }
}

/// <summary>Tokenizes text for BERT-family encoders.</summary>
public sealed class TextTokenizer
{
    private readonly BertTokenizer _tokenizer;

    private TextTokenizer(BertTokenizer tokenizer, bool lowerCase, int vocabularySize, string vocabulary)
    {
        _tokenizer = tokenizer;
        LowerCase = lowerCase;
        VocabularySize = vocabularySize;
        Vocabulary = vocabulary;
    }

    /// <summary>The key under which a model's metadata carries its vocabulary (<see cref="Vocabulary"/>).</summary>
    public const string MetadataKey = "condense.vocabulary";

    /// <summary>The vocabulary file's text, one token per line: what a saved model carries to tokenize its input again.</summary>
    public string Vocabulary { get; }

    /// <summary>A tokenizer for the vocabulary <paramref name="text"/> (one token per line), e.g. from a model's metadata.</summary>
    public static TextTokenizer FromText(string text, string source) =>
        FromVocabulary(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)), source);

    /// <summary>True when the vocabulary is uncased and text is lower-cased before tokenization.</summary>
    public bool LowerCase { get; }

    /// <summary>The number of entries in the vocabulary.</summary>
    public int VocabularySize { get; }

    /// <summary>A tokenizer for the WordPiece vocabulary file <paramref name="path"/> (vocab.txt: one token per line).</summary>
    /// <exception cref="InvalidFileException">The file is missing or not a WordPiece vocabulary.</exception>
    public static TextTokenizer FromVocabulary(string path)
    {
        using var stream = DataFile.OpenRead(path);
        return FromVocabulary(stream, path);
    }

    /// <summary>A tokenizer for a WordPiece vocabulary read from <paramref name="stream"/>; <paramref name="source"/> names it in errors.</summary>
    public static TextTokenizer FromVocabulary(Stream stream, string source)
    {
        // Line i is the token of id i: a blank line would shift every id after it, so it is refused, not skipped.
        TextPassages.Parse(ReadAll(stream, out var bytes), source);
        var lines = System.Text.Encoding.UTF8.GetString(bytes).TrimStart('\uFEFF').Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        int blank = lines.FindIndex(l => l.Trim().Length == 0);
        if (blank >= 0) throw new InvalidFileException(source, $"not a WordPiece vocabulary: line {blank + 1} is blank");
        foreach (var special in new[] { "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]" })
            if (!lines.Contains(special)) throw new InvalidFileException(source, $"not a WordPiece vocabulary: no {special} token");
        // Cased vocabularies (bert-base-cased) hold capitalised words; uncased ones hold no A–Z outside [SPECIAL] tokens
        // (bert-base-uncased keeps a few non-ASCII capitals such as ℝ).
        bool lowerCase = !lines.Any(t => !t.StartsWith('[') && t.Any(char.IsAsciiLetterUpper));
        using var vocabulary = new MemoryStream(bytes);
        try
        {
            var tokenizer = BertTokenizer.Create(vocabulary, new BertOptions { LowerCaseBeforeTokenization = lowerCase });
            return new TextTokenizer(tokenizer, lowerCase, lines.Count, string.Join('\n', lines) + "\n");
        }
        catch (ArgumentException e) { throw new InvalidFileException(source, $"not a WordPiece vocabulary: {e.Message}"); }
    }

    /// <summary>The ids of one passage: [CLS], its first <paramref name="maxLength"/> − 2 tokens, [SEP].</summary>
    public long[] Encode(string passage, int maxLength)
    {
        if (maxLength < 3) throw new CondenseException($"the maximum length must be at least 3 ([CLS], a token, [SEP]), got {maxLength}");
        var tokens = _tokenizer.EncodeToIds(passage, addSpecialTokens: false);
        int kept = Math.Min(tokens.Count, maxLength - 2);
        var ids = new long[kept + 2];
        ids[0] = _tokenizer.ClassificationTokenId;
        for (int i = 0; i < kept; i++) ids[i + 1] = tokens[i];
        ids[^1] = _tokenizer.SeparatorTokenId;
        return ids;
    }

    /// <summary>
    /// The passages as one batch padded to the longest of them, or to <paramref name="padTo"/> tokens when given (a
    /// fixed shape, for timing at a given length).
    /// </summary>
    public TextBatch Batch(IReadOnlyList<string> passages, int maxLength, int? padTo = null) =>
        BatchEncoded([.. passages.Select(p => Encode(p, maxLength))], padTo);

    /// <summary>Passages already encoded by <see cref="Encode"/> as one batch, padded as the other overload pads.</summary>
    public TextBatch BatchEncoded(IReadOnlyList<long[]> encoded, int? padTo = null)
    {
        int batch = encoded.Count, length = Math.Max(padTo ?? 0, encoded.Max(e => e.Length));
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        Array.Fill(ids, _tokenizer.PaddingTokenId);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < encoded[b].Length; t++) (ids[b * length + t], mask[b * length + t]) = (encoded[b][t], 1);
        return new TextBatch(Tensor.FromInt64s(ids, DataType.Int64, batch, length), Tensor.FromInt64s(mask, DataType.Int64, batch, length),
            Tensor.FromInt64s(new long[batch * length], DataType.Int64, batch, length));
    }

    /// <summary>
    /// Calibration passages as a model's named inputs, one passage per call: no padding token enters the activation
    /// statistics (ranges, Hessians, channel magnitudes) that quantization and pruning gather, which describe real tokens only.
    /// </summary>
    public IEnumerable<IReadOnlyDictionary<string, Tensor>> CalibrationFeeds(IReadOnlyList<string> inputNames, IEnumerable<string> passages,
        int maxLength)
    {
        foreach (var passage in passages) yield return Batch([passage], maxLength).Feed(inputNames);
    }

    private static byte[] ReadAll(Stream stream, out byte[] bytes)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return bytes = copy.ToArray();
    }
}
