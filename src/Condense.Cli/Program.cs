// The `condense` command: registers the commands and nothing else. Each command is a settings class
// plus a short handler calling the library; StrictCommandLine refuses a command line it does not fully
// understand, and CliErrors turns bad input into a one-line message.
using Condense.Cli;
using Condense.Cli.CommandLine;
using Condense.Cli.Commands;
using Spectre.Console.Cli;

if (Ranks.Start() is { } failed) return failed;
var app = new CommandApp();
var commands = new StrictCommandLine();
app.Configure(config =>
{
    config.SetApplicationName("condense");
    config.SetApplicationVersion(typeof(Program).Assembly.GetName().Version?.ToString(3) ?? "0.1.0");
    config.SetExceptionHandler((exception, _) => CliErrors.Report(exception));
    config.UseStrictParsing();
    commands.Add<DemoCommand>(config, "demo").WithDescription("Train the seed MLP on the embedded MNIST and report accuracy, size and speed.")
        .WithExample("demo").WithExample("demo", "--quick", "--out", "runs/demo");
    commands.Add<TrainCommand>(config, "train").WithDescription("Train a model from a spec and save it.")
        .WithExample("train", "--model", "mlp:784-300-100-10", "--epochs", "15", "-o", "lenet300.safetensors");
    commands.Add<PruneCommand>(config, "prune")
        .WithDescription("Prune a model: threshold, magnitude, random, N:M or structured; one shot, AGP or iterative; with masked fine-tuning.")
        .WithExample("prune", "model.safetensors", "--sparsity", "0.9", "--global", "--finetune-epochs", "3", "-o", "pruned.safetensors")
        .WithExample("prune", "model.safetensors", "--structured", "--ratio", "0.5", "--finetune-epochs", "3");
    commands.Add<QuantizeCommand>(config, "quantize")
        .WithDescription("Post-training quantization: static (calibrated), dynamic or weight-only; 2–8 bit weights.")
        .WithExample("quantize", "model.safetensors", "--mode", "static", "--calibration-method", "percentile", "-o", "model.int8.safetensors");
    commands.Add<DistillCommand>(config, "distill")
        .WithDescription("Knowledge distillation: a small student learns from a teacher's softened predictions; compared with the same student "
            + "trained on labels.")
        .WithExample("distill", "--teacher", "teacher.safetensors", "--student", "mlp:784-30-10", "--temperature", "4", "--alpha", "0.9",
            "-o", "student.safetensors");
    commands.Add<ShareCommand>(config, "share")
        .WithDescription("Deep Compression weight sharing: k-means into 2^b values per layer, centroid fine-tuning, Huffman-coded sizes.")
        .WithExample("share", "pruned.safetensors", "--bits", "5", "--finetune-epochs", "2");
    commands.Add<SensitivityCommand>(config, "sensitivity").WithDescription("Accuracy of the model with each tensor pruned alone over a sparsity sweep.")
        .WithExample("sensitivity", "model.safetensors", "--budget", "0.9");
    commands.Add<EvalCommand>(config, "eval").WithDescription("Accuracy, loss, size and speed of a saved model.")
        .WithExample("eval", "model.safetensors");
    commands.Add<DiagnoseCommand>(config, "diagnose")
        .WithDescription("Per-layer error of a compressed model against the float one (SQNR, cosine, ranges, clipping), worst first, with hints.")
        .WithExample("diagnose", "model.safetensors", "model.int8.safetensors");
    commands.Add<InfoCommand>(config, "info").WithDescription("Layers, shapes, parameters and sparsity of a saved model.")
        .WithExample("info", "model.safetensors");
    commands.Add<EmbedCommand>(config, "embed").WithDescription("Sentence embeddings of a text file's passages (mean pooled, normalised) as N×D .npy.")
        .WithExample("embed", "model.onnx", "--text", "passages.txt", "-o", "embeddings.npy");
    commands.Add<RunCommand>(config, "run").WithDescription("Runs a model on .npy inputs of any type; writes each output as OUTPUT_NAME.npy.")
        .WithExample("run", "model.onnx", "--input", "input_ids=ids.npy", "--input", "attention_mask=mask.npy", "-o", "outputs");
    commands.Add<ComposeCommand>(config, "compose").WithDescription("One model from two: the first's outputs feed the second's inputs.")
        .WithExample("compose", "ResNetPreprocess.onnx", "ResNet18.onnx", "-o", "resnet18.rgb.onnx");
});
return Ranks.Finish(commands.Run(app, args));
