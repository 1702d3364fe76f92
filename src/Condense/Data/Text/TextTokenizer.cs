// Tokenization of passages into the inputs a text model takes, by Microsoft.ML.Tokenizers:
// - WordPiece (BertTokenizer; vocab.txt) for BERT-family encoders: [CLS] tokens [SEP]; lower-casing follows the
//   vocabulary (an uncased vocabulary holds no upper-case word);
// - byte-level BPE (CodeGenTokenizer, which is GPT-2's algorithm; vocab.json + merges.txt) for GPT-style decoders and
//   RoBERTa-family encoders: the tokens alone (GPT-2) or <s> tokens </s> when the vocabulary has both (RoBERTa, BART),
//   as Hugging Face's tokenizers frame them;
// - SentencePiece Unigram (SentencePieceTokenizer; tokenizer.json) for XLM-RoBERTa-family and T5 encoders.
// Passages are truncated to a maximum length (the tokens past it dropped, framing kept, as Hugging Face truncates) and
// batches padded to their longest passage (dynamic padding) with the attention mask and zero token types.
using System.Text.Json;
using Condense.Tensors;
using Microsoft.ML.Tokenizers;

namespace Condense.Data.Text;

/// <summary>Tokenizes text for BERT-family encoders (WordPiece), GPT-style decoders (byte-level BPE) and XLM-R/T5 encoders (Unigram).</summary>
public sealed partial class TextTokenizer
{
    private readonly Func<string, IReadOnlyList<int>> _encode;
    private readonly int? _first, _last;
    private readonly long _padding;
    private readonly Dictionary<string, string> _carried;

    private TextTokenizer(Func<string, IReadOnlyList<int>> encode, int? first, int? last, long padding, bool lowerCase, int vocabularySize,
        Dictionary<string, string> carried)
    {
        (_encode, _first, _last, _padding, _carried) = (encode, first, last, padding, carried);
        LowerCase = lowerCase;
        VocabularySize = vocabularySize;
    }

    /// <summary>The key under which a model's metadata carries its WordPiece vocabulary.</summary>
    public const string MetadataKey = "condense.vocabulary";

    /// <summary>The keys under which a model's metadata carries its byte-level BPE vocabulary (vocab.json) and merges (merges.txt).</summary>
    public const string BpeVocabularyKey = "condense.bpe.vocabulary", BpeMergesKey = "condense.bpe.merges";

    /// <summary>True when the vocabulary is uncased and text is lower-cased before tokenization.</summary>
    public bool LowerCase { get; }

    /// <summary>The number of entries in the vocabulary.</summary>
    public int VocabularySize { get; }

    /// <summary>The tokens every passage gets around its own: 2 for [CLS]/[SEP] or &lt;s&gt;/&lt;/s&gt;, 0 for GPT-2's BPE.</summary>
    public int FramingTokens => (_first is null ? 0 : 1) + (_last is null ? 0 : 1);

    /// <summary>
    /// Writes what a saved model needs to tokenize its input again into its <paramref name="metadata"/> (the vocabulary, and
    /// the merges of a BPE), so that a model Condense wrote needs no vocabulary file beside it.
    /// </summary>
    public void CarryInto(IDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        foreach (var key in new[] { MetadataKey, BpeVocabularyKey, BpeMergesKey, TokenizerJsonKey, SentencePieceKey, BpeFraming.MetadataKey })
            metadata.Remove(key);
        foreach (var (key, value) in _carried) metadata[key] = value;
    }

    /// <summary>The tokenizer a model's <paramref name="metadata"/> carries (<see cref="CarryInto"/>), or null if none.</summary>
    public static TextTokenizer? FromMetadata(IReadOnlyDictionary<string, string> metadata, string source)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.TryGetValue(MetadataKey, out var words)) return FromText(words, source);
        if (metadata.TryGetValue(SentencePieceKey, out var proto))
        {
            try { return FromSentencePiece(Convert.FromBase64String(proto), source, FramingOf(metadata)); }
            catch (FormatException) { throw new InvalidFileException(source, "the SentencePiece model it carries is not base64"); }
        }
        if (metadata.TryGetValue(TokenizerJsonKey, out var json))
        {
            var framing = FramingOf(metadata);
            try
            {
                using var document = JsonDocument.Parse(CarriedText.Unpack(json, source));
                return FromTokenizerJson(document.RootElement, source, () => framing);
            }
            catch (JsonException e) { throw new InvalidFileException(source, $"the tokenizer.json it carries is broken: {e.Message.Split('\n')[0]}"); }
        }
        if (metadata.TryGetValue(BpeVocabularyKey, out var vocabulary) && metadata.TryGetValue(BpeMergesKey, out var merges))
            return FromBpe(Utf8(vocabulary), Utf8(merges), source,
                metadata.TryGetValue(BpeFraming.MetadataKey, out var framing) ? BpeFraming.FromMetadata(framing) : null);
        return null;
    }

    private static BpeFraming? FramingOf(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue(BpeFraming.MetadataKey, out var stated) ? BpeFraming.FromMetadata(stated) : null;

    /// <summary>A tokenizer for the WordPiece vocabulary <paramref name="text"/> (one token per line), e.g. from a model's metadata.</summary>
    public static TextTokenizer FromText(string text, string source) => FromVocabulary(Utf8(text), source);

    /// <summary>
    /// A tokenizer for the vocabulary file <paramref name="path"/>: a WordPiece vocab.txt (one token per line), a byte-level
    /// BPE vocab.json with its merges.txt in the same folder, a Hugging Face tokenizer.json of either kind or of a
    /// SentencePiece Unigram, or a SentencePiece model file (.model: Llama 2's tokenizer.model).
    /// </summary>
    /// <exception cref="InvalidFileException">The file is missing or not one of these.</exception>
    public static TextTokenizer FromVocabulary(string path)
    {
        if (Path.GetExtension(path).Equals(".json", StringComparison.OrdinalIgnoreCase)) return FromJsonFile(path);
        if (Path.GetExtension(path).Equals(".model", StringComparison.OrdinalIgnoreCase))
        {
            using var proto = DataFile.OpenRead(path);
            return FromSentencePiece(ReadAll(proto, out _), path, BpeFraming.Configured(Path.GetDirectoryName(Path.GetFullPath(path)) ?? "."));
        }
        using var stream = DataFile.OpenRead(path);
        return FromVocabulary(stream, path);
    }

    /// <summary>
    /// The tokenizer of the model at <paramref name="modelPath"/> from the files beside it — vocab.txt, else vocab.json
    /// with merges.txt, else tokenizer.json, else (or when tokenizer.json is not readable) tokenizer.model — or null when
    /// there are none.
    /// </summary>
    public static TextTokenizer? Beside(string modelPath)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        string sentencePiece = Path.Combine(folder, "tokenizer.model");
        foreach (var name in new[] { "vocab.txt", "vocab.json", "tokenizer.json" })
        {
            if (!File.Exists(Path.Combine(folder, name))) continue;
            // Llama 2's tokenizer.json (SentencePiece BPE with byte fallback) is not read; its tokenizer.model beside it is.
            try { return FromVocabulary(Path.Combine(folder, name)); }
            catch (InvalidFileException) when (name == "tokenizer.json" && File.Exists(sentencePiece)) { return FromVocabulary(sentencePiece); }
        }
        return File.Exists(sentencePiece) ? FromVocabulary(sentencePiece) : null;
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
            var bert = BertTokenizer.Create(vocabulary, new BertOptions { LowerCaseBeforeTokenization = lowerCase });
            var carried = new Dictionary<string, string> { [MetadataKey] = string.Join('\n', lines) + "\n" };
            // Uncased BERT strips accents from the lower-cased text (AccentStripping); BertTokenizer's own stripping needs ICU.
            Func<string, IReadOnlyList<int>> encode = lowerCase ? p => bert.EncodeToIds(AccentStripping.Strip(p.ToLowerInvariant()), addSpecialTokens: false)
                : p => bert.EncodeToIds(p, addSpecialTokens: false);
            return new TextTokenizer(encode, bert.ClassificationTokenId, bert.SeparatorTokenId,
                bert.PaddingTokenId, lowerCase, lines.Count, carried);
        }
        catch (ArgumentException e) { throw new InvalidFileException(source, $"not a WordPiece vocabulary: {e.Message}"); }
    }

    /// <summary>
    /// The most tokens the model this tokenizer feeds takes (its position table; Inference.TextPositions measures it), when
    /// known: <see cref="Encode"/> cuts passages there and <see cref="BatchEncoded"/> pads no further, whatever length is asked.
    /// </summary>
    public int? PositionLimit { get; set; }

    /// <summary>
    /// The ids of one passage: its framing (see <see cref="FramingTokens"/>) around its first tokens, <paramref name="maxLength"/>
    /// (or <see cref="PositionLimit"/>, if fewer) in all.
    /// </summary>
    public long[] Encode(string passage, int maxLength)
    {
        if (maxLength < FramingTokens + 1)
            throw new CondenseException($"the maximum length must be at least {FramingTokens + 1} (a token and its framing), got {maxLength}");
        if (PositionLimit is int limit && limit >= FramingTokens + 1) maxLength = Math.Min(maxLength, limit);
        var tokens = _encode(passage);
        int kept = Math.Min(tokens.Count, maxLength - FramingTokens), offset = _first is null ? 0 : 1;
        var ids = new long[kept + FramingTokens];
        if (_first is int first) ids[0] = first;
        for (int i = 0; i < kept; i++) ids[i + offset] = tokens[i];
        if (_last is int last) ids[^1] = last;
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
        int batch = encoded.Count, length = Math.Max(Math.Min(padTo ?? 0, PositionLimit ?? int.MaxValue), encoded.Max(e => e.Length));
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        Array.Fill(ids, _padding);
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < encoded[b].Length; t++) (ids[b * length + t], mask[b * length + t]) = (encoded[b][t], 1);
        return new TextBatch(Tensor.FromInt64s(ids, DataType.Int64, batch, length), Tensor.FromInt64s(mask, DataType.Int64, batch, length),
            Tensor.FromInt64s(new long[batch * length], DataType.Int64, batch, length));
    }

    /// <summary>
    /// Calibration passages as a model's named inputs, one passage per call: no padding token enters the activation
    /// statistics (ranges, Hessians, channel magnitudes) that quantization and pruning gather, which describe real tokens only.
    /// </summary>
    public IEnumerable<IReadOnlyDictionary<string, Tensor>> CalibrationFeeds(IReadOnlyList<TextInput> inputs,
        IEnumerable<string> passages, int maxLength)
    {
        foreach (var passage in passages) yield return Batch([passage], maxLength).Feed(inputs);
    }

    private static MemoryStream Utf8(string text) => new(System.Text.Encoding.UTF8.GetBytes(text));

    private static byte[] ReadAll(Stream stream, out byte[] bytes)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return bytes = copy.ToArray();
    }
}
