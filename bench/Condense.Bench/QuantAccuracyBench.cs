// The quantization quality table, reproducible in one command: LeNet-300-100 trained with the default
// recipe (15 epochs), then quantized after training in every mode and calibration method; accuracy on
// the 2,000 test images measured on what runs the model (the integer engine for static int8), and the
// size of the saved file against the fp32 file.
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Inference;
using Condense.Quantization;
using Condense.Quantization.Observers;
using Condense.Training;

namespace Condense.Bench;

internal static class QuantAccuracyBench
{
    public static int Run(string[] args)
    {
        var (train, test) = Mnist.LoadEmbedded();
        var net = Condense.Nn.ModelSpec.Parse("mlp:784-300-100-10").Build(0);
        Trainer.Fit(net, train, null, new TrainOptions());
        var model = new GraphModule(GraphTracer.Trace(net, train.SampleShape));
        string dir = Directory.CreateTempSubdirectory("condense-quant-").FullName;
        string floatFile = Path.Combine(dir, "fp32.safetensors");
        Checkpoint.Save(model.Graph, floatFile);
        long floatBytes = new FileInfo(floatFile).Length;
        float baseline = Evaluator.Evaluate(model, test).Accuracy;
        Console.WriteLine($"LeNet-300-100, default recipe: {baseline:P2}; fp32 file {floatBytes:N0} B");
        Console.WriteLine();
        Console.WriteLine("| quantization | engine | accuracy | change | file | of fp32 |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        void Row(string name, QuantizeOptions options)
        {
            var (quantized, _) = Quantizer.Quantize(model, train, options);
            string path = Path.Combine(dir, "q.safetensors");
            Checkpoint.Save(quantized.Graph, path);
            var runner = IntegerModel.Runner(Checkpoint.Load(path));
            float accuracy = Evaluator.Evaluate(runner, test).Accuracy;
            long bytes = new FileInfo(path).Length;
            Console.WriteLine($"| {name} | {(runner is IntegerModel ? "integer" : "float simulation")} | {accuracy:P2} | " +
                $"{(accuracy - baseline) * 100:+0.00;−0.00;0.00} pt | {bytes:N0} B | {100.0 * bytes / floatBytes:F1} % |");
        }
        foreach (var method in Enum.GetValues<CalibrationMethod>())
            Row($"static int8 per channel, {method} calibration", new QuantizeOptions { Calibration = method });
        Row("static int8 per tensor, MinMax", new QuantizeOptions { PerChannel = false });
        Row("dynamic int8 per channel", new QuantizeOptions { Mode = QuantizationMode.Dynamic });
        Row("weight-only int8 per channel", new QuantizeOptions { Mode = QuantizationMode.WeightOnly });
        Row("weight-only int4 per channel", new QuantizeOptions { Mode = QuantizationMode.WeightOnly, WeightBits = 4 });
        Directory.Delete(dir, recursive: true);
        return 0;
    }
}
