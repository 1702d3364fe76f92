// The tokens a byte-level BPE puts around each passage, as Hugging Face's tokenizer would: tokenizer.json's post-processor
// (TemplateProcessing's special tokens around sequence A; RobertaProcessing's and BertProcessing's cls and sep), else
// tokenizer_config.json's add_bos_token / add_eos_token with its bos_token / eos_token (OPT puts </s> first and nothing
// last), else RoBERTa's <s> … </s> when the vocabulary has both and nothing otherwise (GPT-2).
using System.Text.Json;

namespace Condense.Data.Text;

/// <summary>The special tokens before and after each passage (null: none).</summary>
/// <param name="First">The token before the passage's own.</param>
/// <param name="Last">The token after them.</param>
public sealed record BpeFraming(string? First, string? Last)
{
    /// <summary>The key under which a model's metadata carries the framing: the two tokens on two lines (empty: none).</summary>
    public const string MetadataKey = "condense.bpe.framing";

    internal string ToMetadata() => $"{First}\n{Last}";

    /// <summary>Throws unless each framing token has an id in the vocabulary <paramref name="id"/> looks up.</summary>
    internal void Check(Func<string, int?> id, string source)
    {
        foreach (var token in new[] { First, Last })
            if (token is not null && id(token) is null) throw new InvalidFileException(source, $"the framing token '{token}' is not in the vocabulary");
    }

    internal static BpeFraming FromMetadata(string text)
    {
        var lines = text.Split('\n');
        return new BpeFraming(lines[0].Length > 0 ? lines[0] : null, lines.Length > 1 && lines[1].Length > 0 ? lines[1] : null);
    }

    /// <summary>The framing <paramref name="folder"/>'s tokenizer.json or tokenizer_config.json states, or null when neither does.</summary>
    internal static BpeFraming? Stated(string folder)
    {
        string json = Path.Combine(folder, "tokenizer.json");
        return (File.Exists(json) ? Read(json, PostProcessor) : null) ?? Configured(folder);
    }

    /// <summary>The framing <paramref name="folder"/>'s tokenizer_config.json states, or null.</summary>
    internal static BpeFraming? Configured(string folder)
    {
        string config = Path.Combine(folder, "tokenizer_config.json");
        return File.Exists(config) ? Read(config, Config) : null;
    }

    private static BpeFraming? Read(string path, Func<JsonElement, BpeFraming?> from)
    {
        try
        {
            using var stream = DataFile.OpenRead(path);
            using var document = JsonDocument.Parse(stream);
            return document.RootElement.ValueKind == JsonValueKind.Object ? from(document.RootElement) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidFileException(path, $"not a valid tokenizer file: {e.Message.Split('\n')[0]}");
        }
    }

    // tokenizer.json: {"post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": …}]}}.
    internal static BpeFraming? PostProcessor(JsonElement root) =>
        root.TryGetProperty("post_processor", out var post) && post.ValueKind == JsonValueKind.Object ? Processor(post) : null;

    private static BpeFraming? Processor(JsonElement post)
    {
        string? type = post.TryGetProperty("type", out var t) ? t.GetString() : null;
        // Llama 3 chains a ByteLevel (offsets only) and a TemplateProcessing: the framing is the member that frames.
        if (type == "Sequence" && post.TryGetProperty("processors", out var members) && members.ValueKind == JsonValueKind.Array)
            return members.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.Object).Select(Processor).OfType<BpeFraming>()
                .LastOrDefault(f => f.First is not null || f.Last is not null) ?? new BpeFraming(null, null);
        if (type is "RobertaProcessing" or "BertProcessing")
            return new BpeFraming(Token(post, "cls"), Token(post, "sep"));
        if (type == "ByteLevel") return new BpeFraming(null, null);
        if (type != "TemplateProcessing" || !post.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array) return null;
        string? first = null, last = null;
        bool seen = false;
        foreach (var piece in single.EnumerateArray())
        {
            if (piece.TryGetProperty("Sequence", out _)) seen = true;
            else if (piece.TryGetProperty("SpecialToken", out var special) && special.TryGetProperty("id", out var id))
                if (seen) last = id.GetString();
                else first = id.GetString();
        }
        return new BpeFraming(first, last);

        // RobertaProcessing writes ["<s>", 0]: the token and its id.
        static string? Token(JsonElement post, string name) =>
            post.TryGetProperty(name, out var pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() > 0 ? pair[0].GetString() : null;
    }

    // tokenizer_config.json: {"add_bos_token": true, "bos_token": "</s>"} (or {"content": "</s>", …}); silent when it says nothing.
    private static BpeFraming? Config(JsonElement root)
    {
        bool bos = Flag(root, "add_bos_token"), eos = Flag(root, "add_eos_token");
        if (!root.TryGetProperty("add_bos_token", out _) && !root.TryGetProperty("add_eos_token", out _)) return null;
        return new BpeFraming(bos ? Token(root, "bos_token") : null, eos ? Token(root, "eos_token") : null);

        static bool Flag(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

        static string? Token(JsonElement e, string name) => !e.TryGetProperty(name, out var v) ? null
            : v.ValueKind == JsonValueKind.String ? v.GetString()
            : v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) ? c.GetString() : null;
    }
}
