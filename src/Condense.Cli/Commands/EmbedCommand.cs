// `condense embed MODEL --text FILE -o embeddings.npy`: sentence embeddings of every passage (N × D float32), mean
// pooled over the attention mask and L2-normalised as sentence-transformers does, unless told otherwise.
using System.ComponentModel;
using Condense.Data;
using Condense.Data.Text;
using Condense.Formats;
using Condense.Inference;
using Condense.Tensors;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class EmbedCommand : Command<EmbedCommand.Settings>
{
    public sealed class Settings : TextSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("A text encoder (.onnx or .safetensors) taking input_ids, attention_mask [[and token_type_ids]].")]
        public string Model { get; init; } = "";

        [CommandOption("-o|--out <FILE>")] [Description("The embeddings, an N×D float32 .npy file. Default: embeddings.npy")]
        public string Out { get; init; } = "embeddings.npy";

        [CommandOption("--pooling <MODE>")]
        [Description("mean (over the attention mask), cls (the first token) or none (the model pools). Default: what the model's "
            + "1_Pooling/config.json (sentence-transformers) states, beside it or one folder up, else mean")]
        public string? Pooling { get; init; }

        [CommandOption("--no-normalize")] [Description("Keep the pooled vectors as they are instead of scaling them to unit length.")]
        public bool NoNormalize { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        string text = settings.Text ?? throw new CondenseException("no text given: use --text FILE (one passage per line)");
        Pooling? given = settings.Pooling switch
        {
            null => null,
            "mean" => Pooling.Mean,
            "cls" => Pooling.Cls,
            "none" => Pooling.None,
            _ => throw new CondenseException($"--pooling must be mean, cls or none, got '{settings.Pooling}'"),
        };
        TextOptions.CheckLengths(settings.MaxLength, settings.BatchSize);
        if (!settings.Out.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            throw new CondenseException($"the embeddings are written as .npy: '{settings.Out}' does not end in .npy");
        OutputPaths.CheckFile(settings.Out, new RunInput("model", settings.Model), new RunInput("text", text), new RunInput("vocabulary", settings.Vocab));

        var model = ModelFile.Load(settings.Model);
        var pooling = given ?? TextOptions.Pooling(settings.Model, model, output);
        var tokenizer = TextOptions.Tokenizer(settings.Model, settings.Vocab, model.Graph).FitTo(model, settings.Model, settings.MaxLength, output);
        var passages = TextPassages.Read(text);
        var embedder = new SentenceEmbedder(model, tokenizer, new EmbeddingOptions(settings.MaxLength, settings.BatchSize, pooling, !settings.NoNormalize));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var embeddings = CountProgress.Run(output, "embedding", passages.Count, progress => embedder.Embed(passages, progress, cancellationToken));
        double seconds = clock.Elapsed.TotalSeconds;
        int dim = embeddings[0].Length;
        Npy.Write(settings.Out, NpyArray.FromTensor(new Tensor([.. embeddings.SelectMany(e => e)], embeddings.Length, dim)));

        output.Console.MarkupLine(Markup.Escape($"{passages.Count} passages → {settings.Out} ({passages.Count}×{dim} float32) in {seconds:F1} s "
            + $"({passages.Count / seconds:F1} passages/s)"));
        output.Result(new { model = settings.Model, text, output = settings.Out, passages = passages.Count, dimensions = dim, seconds });
        return 0;
    }
}
