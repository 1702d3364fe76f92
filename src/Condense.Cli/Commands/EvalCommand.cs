// `condense eval MODEL`: accuracy, loss, parameters, file size, latency and throughput of a saved model.
using Condense.Formats;
using System.ComponentModel;
using Condense.Inference;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Quantization;
using Condense.Reports;
using Condense.Cli.CommandLine;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class EvalCommand : Command<EvalCommand.Settings>
{
    public sealed class Settings : ImageDataSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("A saved model (.safetensors or .onnx).")]
        public string Model { get; init; } = "";

        [CommandOption("--text <FILE>")]
        [Description("Text for a text model (one passage per line): perplexity of a causal language model, fidelity to --reference.")]
        [ConflictsWith("--data"), ConflictsWith("--images")]
        public string? Text { get; init; }

        [CommandOption("--reference <MODEL>")]
        [Description("The model --text, --images or --data FILE.npy compares with (the float original).")]
        [Requires("--text|--images|--data")]
        public string? Reference { get; init; }

        [CommandOption("--vocab <FILE>")] [Description(TextOptions.VocabHelp)]
        [Requires("--text")]
        public string? Vocab { get; init; }

        [CommandOption("--max-length <N>")] [Description(TextOptions.MaxLengthHelp)]
        [Requires("--text")]
        public int MaxLength { get; init; } = 128;
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        if (settings.Text is not null) return EvalText(output, settings);
        if (ImageInputs.Given(settings)) return EvalImages(output, settings);
        if (settings.Reference is not null) throw new CondenseException("--reference needs --text, --images or --data with a .npy or .csv file");
        var model = ModelFile.Load(settings.Model);
        var (_, test) = DataSets.Load(settings.Data);
        // A quantized model runs on the integer engine when its graph compiles to it.
        var compiled = InferenceEngine.Compile(model);
        var runner = compiled.Runner;
        var metrics = ModelMetrics.Measure(runner, test, Inputs.SampleShape(model, test), settings.Model, summary: ModelSummary.Of(model));
        Tables.Metrics(output, settings.Model, metrics);
        output.Result(new
        {
            model = settings.Model,
            metrics.Accuracy, metrics.Loss, metrics.Parameters, metrics.NonzeroParameters, metrics.FileBytes,
            metrics.LatencyMsBatch1, metrics.ThroughputBatch256,
            test_samples = test.Count,
            engine = compiled.IsInteger ? "integer" : "float",
        });
        return 0;
    }

    // Accuracy on labelled images (a classifier), fidelity to the reference's outputs (with --reference), size and speed.
    private static int EvalImages(Output output, Settings settings)
    {
        if (settings.Reference is null && settings.Images is { } folder && Condense.Data.Images.ImageFolder.WhyUnlabelled(folder) is { } why)
            throw new CondenseException($"the images are unlabelled ({why}): give --reference MODEL to measure fidelity to it");
        var model = ModelFile.Load(settings.Model);
        var reference = settings.Reference is null ? null : ModelFile.Load(settings.Reference);
        if (settings is { Reference: null, Images: null, Labels: null } && settings.Data!.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            throw new CondenseException($"the samples of {settings.Data} are unlabelled: give --labels FILE.npy for accuracy, or --reference MODEL "
                + "to measure fidelity to it");
        var images = ImageInputs.Load(output, settings, ImageInputs.Source(settings), model, "evaluation");
        int batch = ImageInputs.BatchSizeOf(output, model);
        var metrics = CountProgress.Run(output, "evaluating", images.Count,
            progress => ImageEvaluation.Measure(model, reference, images, settings.Model, batch, progress));
        if (metrics.Accuracy is null && metrics.Fidelity is null)
            throw new CondenseException("the images have labels but the model's output is not one score per class: give --reference MODEL");
        Tables.ImageMetrics(output, settings.Model, settings.Reference, metrics, ImageInputs.Unit(settings));
        output.Result(new { model = settings.Model, reference = settings.Reference, metrics });
        return 0;
    }

    // Fidelity of a text model's embeddings to the reference's on the passages, a language model's perplexity, size and speed.
    private static int EvalText(Output output, Settings settings)
    {
        TextOptions.CheckLengths(settings.MaxLength, 32);
        var model = ModelFile.Load(settings.Model);
        var reference = settings.Reference is null ? null : ModelFile.Load(settings.Reference);
        var tokenizer = TextOptions.Tokenizer(settings.Model, settings.Vocab, model.Graph);
        if (reference is null && LanguageModelEvaluation.LogitsOutput(model, tokenizer) is null)
            throw new CondenseException("the model is not a causal language model, whose text is its own labels: give --reference MODEL to measure "
                + "fidelity to it");
        tokenizer.FitTo(model, settings.Model, settings.MaxLength, output);
        var embedding = new EmbeddingOptions(settings.MaxLength, Pooling: TextOptions.Pooling(settings.Model, model, output));
        var passages = Condense.Data.Text.TextPassages.Read(settings.Text!);
        var metrics = CountProgress.Run(output, "embedding", passages.Count, progress =>
            TextEvaluation.Measure(model, reference, tokenizer, passages, embedding, settings.Model, progress));
        Tables.TextMetrics(output, settings.Model, settings.Reference, metrics, passages.Count);
        var f = metrics.Fidelity;
        var lm = metrics.LanguageModel;
        output.Result(new
        {
            model = settings.Model,
            reference = settings.Reference,
            passages = passages.Count,
            cosine_mean = f?.CosineMean, cosine_min = f?.CosineMin, top10_overlap = f?.TopKOverlap, spearman = f?.Spearman,
            predicted_tokens = lm?.Tokens, perplexity = lm?.Perplexity, reference_perplexity = lm?.ReferencePerplexity,
            next_token_agreement = lm?.NextTokenAgreement, kl_to_reference = lm?.KlToReference,
            parameters = metrics.Parameters, file_bytes = metrics.FileBytes,
            latency_ms_batch1 = metrics.LatencyMsBatch1, throughput_batch32 = metrics.ThroughputBatch32,
        });
        return 0;
    }
}
