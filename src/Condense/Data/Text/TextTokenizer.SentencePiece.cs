// A SentencePiece model file (Kudo & Richardson 2018; the ModelProto of sentencepiece_model.proto) as Llama 2, Mistral,
// TinyLlama and Gemma ship it: tokenizer.model, BPE with byte fallback (a character no piece covers becomes its UTF-8
// bytes <0x..>), spaces made '▁' and one put before the text. Hugging Face's tokenizer.json for these (byte_fallback,
// Prepend and Replace normalizers) is the same tokenizer written otherwise; Condense reads the model file through
// Microsoft.ML.Tokenizers' SentencePieceTokenizer, whose ids equal Google's spm_encode on the fixture passages (a test
// checks). Passages are framed as tokenizer_config.json says (add_bos_token, add_eos_token), else with <s> before them,
// as Hugging Face's LlamaTokenizer frames them.
using Microsoft.ML.Tokenizers;

namespace Condense.Data.Text;

public sealed partial class TextTokenizer
{
    /// <summary>The key under which a model's metadata carries a SentencePiece model file, base64.</summary>
    public const string SentencePieceKey = "condense.sentencepiece.model";

    /// <summary>
    /// A tokenizer from the SentencePiece model file <paramref name="proto"/> (BPE or Unigram); <paramref name="source"/>
    /// names it in errors. Passages are framed by <paramref name="framing"/>, else by &lt;s&gt; before them when the model has it.
    /// </summary>
    /// <exception cref="InvalidFileException">The bytes are not a SentencePiece model.</exception>
    public static TextTokenizer FromSentencePiece(byte[] proto, string source, BpeFraming? framing = null)
    {
        ArgumentNullException.ThrowIfNull(proto);
        SentencePieceTokenizer model;
        try { model = SentencePieceTokenizer.Create(new MemoryStream(proto), false, false); }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            // Anything else than a ModelProto fails somewhere in its parser; the one line says where.
            throw new InvalidFileException(source, $"not a SentencePiece model: {e.Message.Split('\n')[0]}");
        }
        var vocabulary = model.Vocabulary;
        int? Id(string? token) => token is not null && vocabulary.TryGetValue(token, out int id) ? id : null;
        framing ??= new BpeFraming(Id("<s>") is null ? null : "<s>", null);
        framing.Check(Id, source);
        var carried = new Dictionary<string, string> { [SentencePieceKey] = Convert.ToBase64String(proto), [BpeFraming.MetadataKey] = framing.ToMetadata() };
        int unknown = model.UnknownId;
        // Llama's padding is its <unk> (id 0) unless a <pad> exists; the attention mask hides it either way.
        return new TextTokenizer(p => FuseUnknown(model.EncodeToIds(p, false, false), unknown), Id(framing.First), Id(framing.Last),
            Id("<pad>") ?? Math.Max(unknown, 0), lowerCase: false, vocabulary.Values.Max() + 1, carried);
    }
}
