// The small models of issue 17's table, traced from Condense's own model specs and exported to ONNX: resnet-mini and
// LeNet-5 fp32 (untrained: speed only), LeNet-300-100 fp32 and static int8 (calibrated on the embedded MNIST), each at batch
// 1 and 256 on MNIST test images.
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Bench;

internal static partial class RealBench
{
    private static IEnumerable<Case> SmallCases(string dir)
    {
        var (train, test) = Mnist.LoadEmbedded();
        foreach (var (name, spec) in new[] { ("resnet-mini fp32", "resnet-mini"), ("LeNet-5 fp32", "lenet5"), ("LeNet-300-100 fp32", "mlp:784-300-100-10") })
        {
            var model = new GraphModule(GraphTracer.Trace(ModelSpec.Parse(spec).Build(0), [784]));
            int[] sample = model.Graph.Inputs[0].Shape[1..];
            var feeds = new[] { 1, 256 }.Select(b => (b, new Dictionary<string, Tensor>
                { [model.Graph.Inputs[0].Name] = test.Batch([.. Enumerable.Range(0, b)]).Reshape([b, .. sample]) })).ToList();
            string path = Path.Combine(dir, spec.Replace(':', '-') + ".onnx");
            OnnxExporter.Export(model.Graph, path);
            yield return new Case(name, path, Float(model), feeds, 1e-4, "graph (float)");
            if (spec.StartsWith("mlp", StringComparison.Ordinal))
            {
                var (options, note) = Int8Options(QuantizationMode.Static);
                var int8 = Quantizer.Quantize(model, train, options).Model;
                string int8Path = Path.Combine(dir, "lenet300-int8.onnx");
                OnnxExporter.Export(int8.Graph, int8Path);
                var compiled = InferenceEngine.Compile(int8);
                yield return new Case($"LeNet-300-100 int8 (QDQ{note})", int8Path, Compiled(compiled), feeds,
                double.PositiveInfinity, Describe(compiled), MinCosine: 0.99, FloatPath: path);
            }
        }
    }
}
