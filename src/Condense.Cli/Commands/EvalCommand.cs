// `condense eval MODEL`: accuracy, loss, parameters, file size, latency and throughput of a saved model.
using Condense.Formats;
using System.ComponentModel;
using Condense.Inference;
using Condense.Onnx;
using Condense.Data;
using Condense.Graph;
using Condense.Quantization;
using Condense.Reports;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class EvalCommand : Command<EvalCommand.Settings>
{
    public sealed class Settings : DataSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("A saved model (.safetensors or .onnx).")]
        public string Model { get; init; } = "";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
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
}
