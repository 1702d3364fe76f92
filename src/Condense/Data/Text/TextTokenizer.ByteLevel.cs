// Byte-level BPE whose tokenizer.json splits text otherwise than GPT-2 (Llama 3 and Qwen 2: a Split regex before a
// ByteLevel step without its own; SmolLM: digits one by one; a ByteLevel that adds a prefix space; NFC normalization):
// PreTokenization runs the file's normalizer and pre-tokenizers as Hugging Face's tokenizers do, and Microsoft.ML.Tokenizers'
// BpeTokenizer merges each piece's bytes, mapped to GPT-2's characters, by the file's merge ranks. With ignore_merges (Llama
// 3) a piece that is itself a token is that token. The ids equal Hugging Face's on the fixture passages (a test checks).
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Condense.Data.Text;

public sealed partial class TextTokenizer
{
    /// <summary>The key under which a model's metadata carries a Hugging Face tokenizer.json that no smaller table holds.</summary>
    public const string TokenizerJsonKey = "condense.tokenizer.json";

    private static TextTokenizer FromByteLevelJson(JsonElement root, JsonElement model, Dictionary<string, int> ids, List<string> merges,
        string source, BpeFraming? framing)
    {
        if (model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True)
            throw new InvalidFileException(source, "SentencePiece-style BPE (byte fallback, as Llama 2 and Mistral have) is not supported");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.TryGetProperty(affix, out var value) && value.ValueKind == JsonValueKind.String && value.GetString()!.Length > 0)
                throw new InvalidFileException(source, $"BPE with a {affix} is not supported");
        var steps = new PreTokenization(root, source);
        if (!steps.ByteLevel) throw new InvalidFileException(source, "only byte-level BPE is supported: its pre-tokenizer has no ByteLevel step");
        var symbols = ByteSymbols();
        int missing = Array.FindIndex(symbols, c => !ids.ContainsKey(c));
        if (missing >= 0) throw new InvalidFileException(source, $"not a byte-level BPE vocabulary: byte 0x{missing:X2} has no token");
        BpeTokenizer bpe;
        try { bpe = BpeTokenizer.Create(new BpeOptions(ids) { Merges = merges, ByteLevel = true }); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new InvalidFileException(source, $"the BPE vocabulary and merges do not load: {e.Message.Split('\n')[0]}");
        }
        bool ignoreMerges = model.TryGetProperty("ignore_merges", out var ignore) && ignore.ValueKind == JsonValueKind.True;
        List<int> Encode(string passage)
        {
            var tokens = new List<int>();
            foreach (var piece in steps.Pieces(passage))
            {
                if (ignoreMerges && ids.TryGetValue(string.Concat(Encoding.UTF8.GetBytes(piece).Select(b => symbols[b])), out int whole)) tokens.Add(whole);
                else tokens.AddRange(bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
            }
            return tokens;
        }
        int? Id(string? token) => token is not null && ids.TryGetValue(token, out int id) ? id : null;
        framing ??= Id("<s>") is not null && Id("</s>") is not null ? new BpeFraming("<s>", "</s>") : new BpeFraming(null, null);
        framing.Check(Id, source);
        var carried = new Dictionary<string, string>
        {
            [TokenizerJsonKey] = CarriedText.Pack(root.GetRawText()), [BpeFraming.MetadataKey] = framing.ToMetadata(),
        };
        return new TextTokenizer(Encode, Id(framing.First), Id(framing.Last), Id("<pad>") ?? Id(EndOfText) ?? 0, lowerCase: false,
            ids.Values.Max() + 1, carried);
    }
}
