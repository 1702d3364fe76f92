// Options of commands that read text for a text model: the passages, the vocabulary that tokenizes them, the
// maximum length and the batch size. The vocabulary defaults to vocab.txt beside the model.
using System.ComponentModel;
using Spectre.Console;
using Condense.Data.Text;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal static class TextOptions
{
    public const string MaxLengthHelp = "Tokens per passage, [[CLS]] and [[SEP]] (or <s> and </s>) included; longer passages are truncated. Default: 128";

    public const string VocabHelp =
        "The vocabulary that tokenizes the text: vocab.txt (WordPiece), vocab.json (byte-level BPE, merges.txt beside it) or tokenizer.json "
        + "(WordPiece, byte-level BPE or SentencePiece Unigram) or a SentencePiece tokenizer.model. "
        + "Default: the one the model carries, else one of these beside it";

    /// <summary>
    /// The tokenizer of the model at <paramref name="modelPath"/>: <paramref name="vocab"/> if given, else the vocabulary
    /// the model carries (a model Condense saved from text), else vocab.txt in the model's folder.
    /// </summary>
    public static TextTokenizer Tokenizer(string modelPath, string? vocab, Condense.Graph.ModelGraph graph)
    {
        if (vocab is not null) return TextTokenizer.FromVocabulary(vocab);
        return TextTokenizer.FromMetadata(graph.Metadata, modelPath) ?? TextTokenizer.Beside(modelPath)
            ?? throw new CondenseException($"no vocabulary for {Path.GetFileName(modelPath)}: give --vocab FILE (looked for vocab.txt, vocab.json "
                + $"with merges.txt, tokenizer.json and tokenizer.model in {Path.GetDirectoryName(Path.GetFullPath(modelPath))})");
    }

    /// <summary>
    /// <paramref name="tokenizer"/> cuts passages at the model's positions when it takes fewer than <paramref name="maxLength"/>
    /// tokens (measured: Inference.TextPositions), which <paramref name="output"/> hears once.
    /// </summary>
    public static TextTokenizer FitTo(this TextTokenizer tokenizer, Condense.Graph.GraphModule model, string modelPath, int maxLength, Output output)
    {
        int limit = Condense.Inference.TextPositions.Limit(model, tokenizer, maxLength);
        if (limit >= maxLength) return tokenizer;
        tokenizer.PositionLimit = limit;
        output.Console.MarkupLine($"passages are cut at {limit} tokens, the most {Markup.Escape(Path.GetFileName(modelPath))} takes "
            + $"(--max-length {maxLength})");
        return tokenizer;
    }

    /// <summary>
    /// The pooling a text command measures and fits: what the model's metadata or its sentence-transformers folder states
    /// (said when it is not the mean), else the mean; a stated mode Condense does not compute is a warning and the mean.
    /// </summary>
    public static Condense.Inference.Pooling Pooling(string modelPath, Condense.Graph.GraphModule model, Output output)
    {
        if (Condense.Inference.PoolingConfig.Of(modelPath, model.Graph.Metadata) is not { } stated) return Condense.Inference.Pooling.Mean;
        if (stated.Pooling is not { } pooling)
        {
            output.Console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(stated.Source)} asks for {Markup.Escape(stated.Mode)} pooling, which "
                + "Condense does not compute: the mean is used");
            return Condense.Inference.Pooling.Mean;
        }
        if (pooling != Condense.Inference.Pooling.Mean) output.Console.MarkupLine($"pooling: {stated.Mode} ({Markup.Escape(stated.Source)})");
        return pooling;
    }

    /// <summary>
    /// What a saved text model carries so that it is read the same wherever it goes: its vocabulary (and framing) and its
    /// pooling.
    /// </summary>
    public static void CarryInto(Condense.Graph.ModelGraph graph, TextTokenizer tokenizer, Condense.Inference.Pooling pooling)
    {
        tokenizer.CarryInto(graph.Metadata);
        Condense.Inference.PoolingConfig.CarryInto(graph.Metadata, pooling);
    }

    public static void CheckLengths(int maxLength, int batchSize)
    {
        if (maxLength < 3) throw new CondenseException($"--max-length must be at least 3 ([CLS], a token, [SEP]), got {maxLength}");
        if (batchSize < 1) throw new CondenseException($"--batch-size must be at least 1, got {batchSize}");
    }
}

internal class TextSettings : CommonSettings
{
    [CommandOption("--text <FILE>")] [Description("UTF-8 text, one passage per line (blank lines skipped); a .jsonl file: each line's \"text\" field.")]
    public string? Text { get; init; }

    [CommandOption("--vocab <FILE>")] [Description(TextOptions.VocabHelp)]
    public string? Vocab { get; init; }

    [CommandOption("--max-length <N>")] [Description(TextOptions.MaxLengthHelp)]
    public int MaxLength { get; init; } = 128;

    [CommandOption("--batch-size <N>")] [Description("Passages per model call. Default: 32")]
    public int BatchSize { get; init; } = 32;
}
