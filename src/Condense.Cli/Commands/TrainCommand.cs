// `condense train`: build a model from a spec, train it, save it, report its metrics.
using Condense.Formats;
using System.ComponentModel;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Cli.CommandLine;
using Condense.Nn;
using Condense.Reports;
using Condense.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : ImageDataSettings
    {
        [CommandOption("-m|--model <SPEC>")]
        [Description("Model spec, e.g. mlp:784-128-10 or mlp:784-300-100-10,dropout=0.5. Default: mlp:784-128-10.")]
        public string Model { get; init; } = ModelSpec.Default;

        [CommandOption("-e|--epochs <N>")] [Description("Epochs (default 15).")]
        public int Epochs { get; init; } = new TrainOptions().Epochs;

        [CommandOption("-b|--batch-size <B>")] [Description("Mini-batch size (default 64).")]
        public int BatchSize { get; init; } = new TrainOptions().BatchSize;

        [CommandOption("--lr <X>")] [Description("Learning rate (default 0.1 for SGD, 0.05 for lenet5; 0.001 for Adam/AdamW).")]
        public float? LearningRate { get; init; }

        [CommandOption("--optimizer <NAME>")] [Description("sgd, adam or adamw (default sgd, Nesterov momentum 0.9).")]
        public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

        [CommandOption("--weight-decay <X>")] [Description("Weight decay (default 5e-4).")]
        public float? WeightDecay { get; init; }

        [CommandOption("--schedule <NAME>")] [Description("constant, step or cosine (default cosine).")]
        public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;

        [CommandOption("--augment-shift <PIXELS>")] [Description("Random shifts of up to this many pixels (default 1; 0 turns it off).")]
        public int AugmentShift { get; init; } = new TrainOptions().AugmentShift;

        [CommandOption("-s|--seed <S>")] [Description("Seed of initialisation, shuffling and augmentation (default 0).")]
        public ulong Seed { get; init; }

        [CommandOption("--test-images <DIR>")] [Description("With --images (the training images, one sub-folder per class): the test images.")]
        [Requires("--images")]
        public string? TestImages { get; init; }

        [CommandOption("-o|--out <FILE>")] [Description("Where to save the model (.safetensors). Default: model.safetensors.")]
        public string Out { get; init; } = "model.safetensors";

        public TrainOptions ToOptions(ModelSpec spec) => (TrainOptions.For(spec) with
        {
            Epochs = Epochs, BatchSize = BatchSize, Optimizer = Optimizer, Schedule = Schedule, AugmentShift = AugmentShift, Seed = Seed,
            LearningRate = LearningRate ?? TrainOptions.For(spec, Optimizer).LearningRate,
            WeightDecay = WeightDecay ?? new TrainOptions().WeightDecay,
        }).Validate();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        var spec = ModelSpec.Parse(settings.Model);
        var options = settings.ToOptions(spec);
        OutputPaths.CheckFile(settings.Out, new RunInput("data", settings.Data), new RunInput("images", settings.Images),
            new RunInput("test images", settings.TestImages), new RunInput("preprocessing model", settings.PreprocessModel));
        ModelFile.CheckSavable(settings.Out);
        var (train, test) = settings.Images is null ? DataSets.Load(settings.Data) : ImageSets(output, settings, spec);
        if (train.FeatureSize != spec.InFeatures)
            throw new CondenseException($"model {spec} takes {spec.InFeatures} inputs but {train.Name} samples have {train.FeatureSize} features");
        if (train.Labels is null)
            throw new CondenseException($"training needs labelled images: {Condense.Data.Images.ImageFolder.WhyUnlabelled(settings.Images!)}");
        var model = spec.Build(options.Seed);
        var report = TrainingProgress.Run(output, "train", p => Trainer.Fit(model, train, test, options, p));
        ModelFile.Save(model, settings.Out, train.SampleShape, spec.ToString());
        var metrics = ModelMetrics.Measure(model, test, train.SampleShape, settings.Out);
        Tables.Epochs(output, report);
        Tables.Metrics(output, settings.Out, metrics);
        var warnings = output.Warnings(RunWarnings.Check(metrics.Accuracy, test.NumClasses));
        output.Result(new
        {
            output = settings.Out,
            warnings,
            model = spec.ToString(),
            metrics.Accuracy, metrics.Loss, metrics.Parameters, metrics.NonzeroParameters, metrics.FileBytes,
            metrics.LatencyMsBatch1, metrics.ThroughputBatch256,
            train_seconds = report.Seconds,
            train_samples_per_second = report.SamplesPerSecond,
            epochs = report.Epochs.Select(e => new
            {
                epoch = e.Epoch, learning_rate = e.LearningRate, train_loss = e.TrainLoss, train_accuracy = e.TrainAccuracy,
                test_accuracy = e.Validation?.Accuracy, test_loss = e.Validation?.Loss,
            }),
        });
        return 0;
    }

    // Labelled image folders as the training and test sets, preprocessed for the spec's input.
    private static (Dataset Train, Dataset Test) ImageSets(Output output, Settings settings, ModelSpec spec)
    {
        if (settings.TestImages is null) throw new CondenseException("--images trains on a folder of class sub-folders: give --test-images DIR too");
        int side = (int)Math.Round(Math.Sqrt(spec.InFeatures));
        if (spec.Kind == ModelKind.Mlp && side * side != spec.InFeatures)
            throw new CondenseException($"an MLP of {spec.InFeatures} inputs does not read square grayscale images");
        int[] shape = spec.Kind == ModelKind.Mlp ? [-1, 1, side, side] : [-1, .. spec.ImageShape];
        return (ImageInputs.Load(output, settings, settings.Images!, shape, "training"),
            ImageInputs.Load(output, settings, settings.TestImages, shape, "test"));
    }
}
