// Every quantized file Condense writes, Condense reads back (issue 11, part 3): for each quantization mode × weight
// bits × block-wise or not × ONNX operator set (QDQ, QOperator, MatMulNBits) × model (MLP, LeNet-5), the .onnx file
// loaded with ModelFile.Load must predict what the in-memory quantized model predicted before saving (argmax on
// every image, logits close: exactly where the same integer engine or float graph runs again), and ONNX Runtime
// running the same file must agree too. Combinations the writer cannot express are refused in one line, no file left.
using Condense.Formats;
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Training;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public sealed class QuantizedRoundTripTests(ITestOutputHelper output)
{
    private const int Images = 300;

    private static readonly Lazy<(Dataset Train, Dataset Test)> Data = new(Mnist.LoadEmbedded);

    // Briefly trained, so the predictions are not near ties; built once per model.
    private static readonly Dictionary<string, Lazy<GraphModule>> Models = new()
    {
        ["mlp"] = new(() => Trained("mlp:784-64-10")),
        ["lenet5"] = new(() => Trained("lenet5")),
    };

    private static GraphModule Trained(string spec)
    {
        var model = ModelSpec.Parse(spec).Build(7);
        Trainer.Fit(model, Data.Value.Train.Take(1000), null, TrainOptions.For(ModelSpec.Parse(spec)) with { Epochs = 1, AugmentShift = 0, Seed = 7 });
        return new GraphModule(GraphTracer.Trace(model, [784]));
    }

    public static TheoryData<string, QuantizationMode, int, int> Combinations()
    {
        var data = new TheoryData<string, QuantizationMode, int, int>();
        foreach (var model in new[] { "mlp", "lenet5" })
            foreach (var mode in Enum.GetValues<QuantizationMode>())
                for (int bits = 2; bits <= 8; bits++)
                {
                    data.Add(model, mode, bits, 0);
                    if (mode == QuantizationMode.WeightOnly) data.Add(model, mode, bits, 32);
                }
        return data;
    }

    [Theory]
    [MemberData(nameof(Combinations))]
    public void QuantizedFileReadsBackWithTheSamePredictions(string model, QuantizationMode mode, int bits, int blockSize)
    {
        var options = new QuantizeOptions
        {
            Mode = mode, WeightBits = bits == 8 ? OrtInt8.WeightBits : bits, BlockSize = blockSize > 0 ? blockSize : null, CalibrationSamples = 200,
        };
        GraphModule quantized;
        try { quantized = Quantizer.Quantize(Models[model].Value, Data.Value.Train, options).Model; }
        catch (CondenseException e)
        {
            // Block-wise scales need Linear weights: LeNet-5's convolutions are refused.
            Assert.True(model == "lenet5" && blockSize > 0, e.Message);
            AssertOneLine(e);
            return;
        }
        var x = Data.Value.Test.Batch(Enumerable.Range(0, Images).ToArray());
        var before = Logits(IntegerModel.Runner(quantized), x);
        foreach (var format in Enum.GetValues<QuantizedOnnxFormat>())
        {
            string path = Path.Combine(Path.GetTempPath(), $"condense-roundtrip-{Guid.NewGuid():N}.onnx");
            try
            {
                if (!Expressible(model, mode, bits, blockSize, format))
                {
                    AssertOneLine(Assert.ThrowsAny<CondenseException>(() => ModelFile.Save(quantized.Graph, path, format)));
                    Assert.False(File.Exists(path));
                    continue;
                }
                ModelFile.Save(quantized.Graph, path, format);
                var loaded = ModelFile.Load(path);
                var runner = IntegerModel.Runner(loaded);
                var after = Logits(runner, x);
                var ort = RunOrt(path, x);
                var (same, largest) = Compare(before, after);
                var (ortSame, ortLargest) = Compare(before, ort);
                string engine = runner is IntegerModel or IntegerConvModel ? "integer" : "float";
                output.WriteLine($"{model} {mode} {bits} bits block {blockSize} {format}: engine {engine}, "
                    + $"read back: argmax {same}/{Images}, max |Δlogit| {largest:G3}; ORT: argmax {ortSame}/{Images}, max |Δlogit| {ortLargest:G3}");
                Assert.Equal(Images, same);
                // Where the same engine runs the same numbers again the logits are identical. MatMulNBits adds its bias after
                // the product (float rounding, measured ≤ 1e-6). A dynamic QOperator file computes the products in int32 and
                // scales them after, so a hidden value may land on the other side of the next layer's rounding: one step of
                // that layer's dynamic quantization (measured ≤ 0.006 on logits of about ±10; ONNX Runtime shows the same).
                float tolerance = ExactlyTheSame(mode, format) ? 0f : mode == QuantizationMode.Dynamic ? 0.02f : 1e-5f;
                Assert.True(largest <= tolerance, $"{format}: logits differ by {largest}");
                // ORT requantizes hidden layers with a float multiplier (1 LSB apart on rounding boundaries).
                Assert.True(ortSame >= Images - 3, $"{format}: ONNX Runtime agrees on {ortSame}/{Images} predictions");
                Assert.True(ortLargest <= 0.25f, $"{format}: ONNX Runtime's logits differ by {ortLargest}");
            }
            finally { File.Delete(path); }
        }
    }

    // What each writer takes: QOperator needs 8-bit-stored (int8) weights and static or dynamic inputs, with
    // per-channel scales; MatMulNBits needs weight-only 4-bit Linear layers (LeNet-5's convolutions stay QDQ).
    private static bool Expressible(string model, QuantizationMode mode, int bits, int blockSize, QuantizedOnnxFormat format) => format switch
    {
        QuantizedOnnxFormat.Qdq => true,
        QuantizedOnnxFormat.QOperator => mode != QuantizationMode.WeightOnly && bits > 4,
        _ => mode == QuantizationMode.WeightOnly && bits <= 4,
    };

    private static bool ExactlyTheSame(QuantizationMode mode, QuantizedOnnxFormat format) =>
        format == QuantizedOnnxFormat.Qdq || mode == QuantizationMode.Static;

    private static void AssertOneLine(CondenseException e)
    {
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    private static float[] Logits(Module model, Tensor x)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(x).Data.ToArray();
    }

    private static float[] RunOrt(string path, Tensor x)
    {
        using var session = new InferenceSession(path);
        var input = new DenseTensor<float>(x.Data.ToArray(), [x.Shape[0], .. session.InputMetadata.Values.Single().Dimensions[1..]]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input)]);
        return results.Single().AsEnumerable<float>().ToArray();
    }

    // How many rows have the same argmax, and the largest logit difference.
    private static (int Same, float Largest) Compare(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        int classes = a.Length / Images, same = 0;
        float largest = 0f;
        for (int i = 0; i < Images; i++)
        {
            var ra = a.AsSpan(i * classes, classes);
            var rb = b.AsSpan(i * classes, classes);
            if (ra.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(ra)) == rb.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(rb))) same++;
            for (int j = 0; j < classes; j++) largest = Math.Max(largest, Math.Abs(ra[j] - rb[j]));
        }
        return (same, largest);
    }
}
