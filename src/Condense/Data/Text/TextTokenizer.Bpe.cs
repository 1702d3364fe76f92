// Byte-level BPE (Radford et al. 2019, GPT-2's encoder.py; Sennrich et al. 2016): vocab.json maps tokens, written with
// GPT-2's byte-to-character table, to ids, and merges.txt lists the merges in rank order. Microsoft.ML.Tokenizers'
// CodeGenTokenizer implements GPT-2's regex split and merge loop (its ids equal tiktoken's gpt2 encoding on every corpus
// passage, a test checks). Hugging Face's tokenizer.json holds the same tables, or a WordPiece vocabulary, in one file.
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace Condense.Data.Text;

public sealed partial class TextTokenizer
{
    private const string EndOfText = "<|endoftext|>";

    /// <summary>
    /// A byte-level BPE tokenizer from a vocab.json <paramref name="vocabulary"/> (token → id) and its merges.txt
    /// <paramref name="merges"/>; <paramref name="source"/> names them in errors. Passages are framed by &lt;s&gt; … &lt;/s&gt;
    /// when the vocabulary has both (RoBERTa), else not (GPT-2), unless <paramref name="framing"/> says otherwise (as a model
    /// folder's tokenizer files do: <see cref="BpeFraming"/>); padding is &lt;pad&gt;, else &lt;|endoftext|&gt;, else id 0.
    /// </summary>
    /// <exception cref="InvalidFileException">The vocabulary is not a JSON object of ids, or the merges do not load.</exception>
    public static TextTokenizer FromBpe(Stream vocabulary, Stream merges, string source, BpeFraming? framing = null)
    {
        ReadAll(vocabulary, out var vocabularyBytes);
        ReadAll(merges, out var mergesBytes);
        Dictionary<string, int> ids;
        try { ids = JsonSerializer.Deserialize<Dictionary<string, int>>(vocabularyBytes) ?? []; }
        catch (JsonException e) { throw new InvalidFileException(source, $"not a BPE vocabulary (a JSON object of token ids): {e.Message.Split('\n')[0]}"); }
        if (ids.Count == 0) throw new InvalidFileException(source, "not a BPE vocabulary: it holds no token");
        if (ids.Values.Any(id => id < 0)) throw new InvalidFileException(source, "not a BPE vocabulary: a token id is negative");
        // Every byte must have its token (else text with that byte has no ids), and every merge must join known tokens.
        var symbols = ByteSymbols();
        int missing = Array.FindIndex(symbols, c => !ids.ContainsKey(c));
        if (missing >= 0) throw new InvalidFileException(source, $"not a byte-level BPE vocabulary: byte 0x{missing:X2} has no token");
        int line = 0;
        foreach (var merge in Encoding.UTF8.GetString(mergesBytes).Split('\n'))
        {
            line++;
            var parts = merge.TrimEnd('\r').Split(' ');
            if (merge.StartsWith("#version", StringComparison.Ordinal) || merge.Trim().Length == 0) continue;
            if (parts.Length != 2 || !ids.ContainsKey(parts[0]) || !ids.ContainsKey(parts[1]) || !ids.ContainsKey(parts[0] + parts[1]))
                throw new InvalidFileException(source, $"merge {line} is not two known tokens whose join is known");
        }
        // CodeGenTokenizer takes GPT-2's <|endoftext|> as its unknown token (byte-level BPE never needs one): a vocabulary
        // without it (RoBERTa's, OPT's) gets it as one more id, past the ones the model knows.
        var forCodeGen = ids.ContainsKey(EndOfText) ? vocabularyBytes
            : JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, int>(ids) { [EndOfText] = ids.Values.Max() + 1 });
        CodeGenTokenizer bpe;
        try { bpe = CodeGenTokenizer.Create(new MemoryStream(forCodeGen), new MemoryStream(mergesBytes), false, false, false); }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            // It reports bad merges as IOException, bad vocabularies as ArgumentException or JsonException.
            throw new InvalidFileException(source, $"the BPE vocabulary and merges do not load: {e.Message.Split('\n')[0]}");
        }
        int? Id(string token) => ids.TryGetValue(token, out int id) ? id : null;
        framing ??= Id("<s>") is not null && Id("</s>") is not null ? new BpeFraming("<s>", "</s>") : new BpeFraming(null, null);
        framing.Check(Id, source);
        long padding = Id("<pad>") ?? Id(EndOfText) ?? 0;
        var carried = new Dictionary<string, string>
        {
            [BpeVocabularyKey] = Encoding.UTF8.GetString(vocabularyBytes), [BpeMergesKey] = Encoding.UTF8.GetString(mergesBytes),
            [BpeFraming.MetadataKey] = framing.ToMetadata(),
        };
        int? first = framing.First is { } f ? Id(f) : null, last = framing.Last is { } l ? Id(l) : null;
        return new TextTokenizer(p => bpe.EncodeToIds(p, false, false, false), first, last, padding,
            lowerCase: false, ids.Values.Max() + 1, carried);
    }

    // Hugging Face's tokenizer.json: model.type WordPiece (vocab: token → id) becomes vocab.txt's lines, BPE with a
    // ByteLevel pre-tokenizer (vocab, and merges as "a b" strings or [a, b] pairs) becomes vocab.json and merges.txt.
    // Unigram (SentencePiece: XLM-R, T5) is read by FromUnigramJson, byte-level BPE split otherwise than GPT-2 (Llama 3,
    // Qwen 2, SmolLM) by FromByteLevelJson. SentencePiece's BPE (Llama 2: byte fallback, Metaspace) is refused, not approximated.
    // A JSON file read once: a tokenizer.json by its name or by its "model" object, else a vocab.json with merges.txt beside it.
    private static TextTokenizer FromJsonFile(string path)
    {
        byte[] bytes;
        using (var stream = DataFile.OpenRead(path)) ReadAll(stream, out bytes);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        bool named = Path.GetFileName(path).Equals("tokenizer.json", StringComparison.OrdinalIgnoreCase);
        JsonDocument? document = null;
        try { document = JsonDocument.Parse(bytes); }
        catch (JsonException e) when (named) { throw new InvalidFileException(path, $"not a tokenizer.json: {e.Message.Split('\n')[0]}"); }
        catch (JsonException) { } // not JSON at all: the vocab.json reader says so below
        using (document)
        {
            var root = document?.RootElement;
            if (named || root is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object)
            {
                // A value of the wrong kind where a string, number or array belongs is the file's fault, not ours.
                try { return FromTokenizerJson(root!.Value, path, () => BpeFraming.Configured(folder)); }
                catch (InvalidOperationException e) { throw new InvalidFileException(path, $"not a valid tokenizer.json: {e.Message.Split('\n')[0]}"); }
            }
        }
        string merges = Path.Combine(folder, "merges.txt");
        if (!File.Exists(merges)) throw new InvalidFileException(path, $"a BPE vocabulary needs its merges: no {merges}");
        using var mergesStream = DataFile.OpenRead(merges);
        return FromBpe(new MemoryStream(bytes), mergesStream, path, BpeFraming.Stated(folder));
    }

    // `configured`: the framing a tokenizer_config.json beside the file states, read only when the file's post-processor does not.
    private static TextTokenizer FromTokenizerJson(JsonElement root, string path, Func<BpeFraming?> configured)
    {
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.Object
            && m.TryGetProperty("type", out var kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == "Unigram")
            return FromUnigramJson(root.GetRawText(), path, configured());
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object
            || !model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw new InvalidFileException(path, "not a tokenizer.json: no model.vocab object");
        string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "?";
        var ids = new Dictionary<string, int>();
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id) || id < 0)
                throw new InvalidFileException(path, $"token '{entry.Name}' has no valid id");
            ids[entry.Name] = id;
        }
        if (type == "WordPiece") return FromText(WordPieceLines(ids, path), path);
        if (type != "BPE") throw new InvalidFileException(path, $"a {type} tokenizer is not supported; Condense reads WordPiece, byte-level BPE and Unigram");
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var token in added.EnumerateArray())
                if (token.TryGetProperty("content", out var content) && token.TryGetProperty("id", out var id) && id.TryGetInt32(out int value))
                    ids.TryAdd(content.GetString() ?? "", value);
        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var list) && list.ValueKind == JsonValueKind.Array)
            foreach (var merge in list.EnumerateArray())
                merges.Add(merge.ValueKind == JsonValueKind.Array ? string.Join(' ', merge.EnumerateArray().Select(p => p.GetString())) : merge.GetString()!);
        var framing = BpeFraming.PostProcessor(root) ?? configured();
        if (!Gpt2Split(root, model)) return FromByteLevelJson(root, model, ids, merges, path, framing);
        var table = "#version: 0.2\n" + string.Concat(merges.Select(line => line + "\n"));
        return FromBpe(new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(ids)), Utf8(table), path, framing);
    }

    // GPT-2's byte-to-character table (encoder.py's bytes_to_unicode): printable Latin-1 bytes stand for themselves, the
    // others for the characters from U+0100 on, in byte order.
    private static string[] ByteSymbols()
    {
        var symbols = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            symbols[b] = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF ? ((char)b).ToString() : ((char)next++).ToString();
        return symbols;
    }

    // GPT-2's own split, which CodeGenTokenizer runs: no normalizer, the pre-tokenizer ByteLevel with its regex and no prefix
    // space (alone or the only member of a Sequence), merges applied to every word. Any other goes to FromByteLevelJson.
    private static bool Gpt2Split(JsonElement root, JsonElement model)
    {
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null) return false;
        if (model.TryGetProperty("ignore_merges", out var ignore) && ignore.ValueKind == JsonValueKind.True) return false;
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object) return false;
        if (Type(pre) == "Sequence" && pre.TryGetProperty("pretokenizers", out var members) && members.GetArrayLength() == 1) pre = members[0];
        return Type(pre) == "ByteLevel" && !(pre.TryGetProperty("use_regex", out var regex) && regex.ValueKind == JsonValueKind.False)
            && !(pre.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.True);

        static string? Type(JsonElement e) => e.TryGetProperty("type", out var t) ? t.GetString() : null;
    }

    private static string WordPieceLines(Dictionary<string, int> ids, string path)
    {
        var lines = new string[ids.Count];
        foreach (var (token, id) in ids)
        {
            if (id >= lines.Length || lines[id] is not null) throw new InvalidFileException(path, $"the WordPiece ids are not 0 to {ids.Count - 1} once each");
            lines[id] = token;
        }
        return string.Join('\n', lines) + "\n";
    }
}
