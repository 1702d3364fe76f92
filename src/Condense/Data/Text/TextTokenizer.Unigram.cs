// SentencePiece's Unigram language model (Kudo 2018, "Subword Regularization"; Kudo & Richardson 2018, "SentencePiece"):
// the passage, normalized (the model's precompiled NFKC-style character map, runs of spaces folded) and with spaces made
// '▁', is cut into the pieces whose summed log-probabilities are highest (Viterbi). XLM-RoBERTa and the multilingual
// sentence encoders built on it (paraphrase-multilingual-MiniLM, multilingual-e5), T5 and ALBERT tokenize so. Hugging
// Face writes such a tokenizer as tokenizer.json with model.type "Unigram" (vocab: [piece, score] pairs, the id being the
// position); Microsoft.ML.Tokenizers' SentencePieceTokenizer reads that file, normalizer chain included, and its ids
// equal Hugging Face's tokenizers library's on the fixtures (a test checks). The framing comes from the post-processor
// as for BPE: XLM-R's <s> … </s>, T5's … </s>.
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Condense.Data.Text;

public sealed partial class TextTokenizer
{
    /// <summary>
    /// A SentencePiece Unigram tokenizer from the Hugging Face tokenizer.json <paramref name="json"/> (model.type "Unigram");
    /// <paramref name="source"/> names it in errors. Passages are framed as the file's post-processor states, else as
    /// <paramref name="framing"/> (a tokenizer_config.json beside it), else not at all; padding is &lt;pad&gt;, else id 0.
    /// </summary>
    /// <exception cref="InvalidFileException">The file is not a Unigram tokenizer.json Condense can read.</exception>
    public static TextTokenizer FromUnigramJson(string json, string source, BpeFraming? framing = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        var pieces = new Dictionary<string, int>();
        BpeFraming? stated;
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object
                || !model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Array)
                throw new InvalidFileException(source, "not a Unigram tokenizer.json: no model.vocab list of [piece, score] pairs");
            int id = 0;
            foreach (var entry in vocab.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() != 2 || entry[0].ValueKind != JsonValueKind.String
                    || entry[1].ValueKind != JsonValueKind.Number)
                    throw new InvalidFileException(source, $"Unigram piece {id} is not a [piece, score] pair");
                pieces.TryAdd(entry[0].GetString()!, id++);
            }
            if (id == 0) throw new InvalidFileException(source, "not a Unigram tokenizer.json: it holds no piece");
            stated = BpeFraming.PostProcessor(root);
        }
        catch (JsonException e) { throw new InvalidFileException(source, $"not a tokenizer.json: {e.Message.Split('\n')[0]}"); }
        catch (InvalidOperationException e) { throw new InvalidFileException(source, $"not a valid tokenizer.json: {e.Message.Split('\n')[0]}"); }
        framing = stated ?? framing ?? new BpeFraming(null, null);
        int? Id(string? token) => token is not null && pieces.TryGetValue(token, out int id) ? id : null;
        framing.Check(Id, source);
        SentencePieceTokenizer unigram;
        try { unigram = SentencePieceTokenizer.CreateFromTokenizerJson(new MemoryStream(Encoding.UTF8.GetBytes(json)), false, false); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or JsonException or InvalidOperationException or FormatException
            or InvalidDataException)
        {
            // NotSupportedException names what it cannot do (a pre-tokenizer other than Metaspace, a template with a token inside),
            // InvalidDataException what is wrong with the file (an unknown id out of range, a charsmap that is not base64).
            throw new InvalidFileException(source, $"the Unigram tokenizer does not load: {e.Message.Split('\n')[0]}");
        }
        var carried = new Dictionary<string, string> { [TokenizerJsonKey] = CarriedText.Pack(json), [BpeFraming.MetadataKey] = framing.ToMetadata() };
        int unknown = unigram.UnknownId;
        return new TextTokenizer(p => FuseUnknown(unigram.EncodeToIds(p, false, false), unknown), Id(framing.First), Id(framing.Last),
            Id("<pad>") ?? 0, lowerCase: false, pieces.Values.Max() + 1, carried);
    }

    // SentencePiece's Viterbi and Hugging Face's Unigram (fuse_unk) make a run of characters no piece covers one unknown
    // token; SentencePieceTokenizer gives one per character, so runs are fused here ("Ελληνικά" is ▁ <unk>, not ▁ and 8).
    private static List<int> FuseUnknown(IReadOnlyList<int> ids, int unknown)
    {
        var fused = new List<int>(ids.Count);
        foreach (int id in ids)
            if (id != unknown || fused.Count == 0 || fused[^1] != unknown) fused.Add(id);
        return fused;
    }
}
