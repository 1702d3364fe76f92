// all-MiniLM-L6-v2 through the pass a user runs (`quantize --text`): exported to ONNX, ONNX Runtime runs the float
// model re-exported and the dynamic int8 model, and the fidelity it measures matches ours within 0.002 — the file we
// write is the model we measured. Re-export of the float model reproduces the original's outputs in ONNX Runtime.
// With 4-bit embedding tables the file is about a fifth of the original, and ONNX Runtime again measures what we measure.
using Condense.Data.Text;
using Condense.Graph;
using Condense.Inference;
using Condense.Onnx;
using Condense.Quantization;
using Condense.Reports;
using Condense.Tensors;
using Condense.Tests.Onnx;

namespace Condense.Tests.Pretrained;

public class MiniLmQuantizationTests
{
    private static readonly Lazy<TextTokenizer> Tokenizer = new(() => TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary));

    private static IReadOnlyList<string> Fortunes() =>
        TextPassages.Read(Condense.Tests.Data.TestFiles.Fortunes);

    // Mean-pooled, normalised embeddings computed by ONNX Runtime from the model file.
    private static float[][] OrtEmbeddings(global::Onnx.ModelProto model, IReadOnlyList<string> passages) => [.. passages.Select(p =>
    {
        var feed = Tokenizer.Value.Batch([p], 128).Feed(model.Graph.Input.Select(i => i.Name)).Select(kv => (kv.Key, kv.Value)).ToArray();
        var states = TypedParity.RunOnnxRuntime(model, feed)["last_hidden_state"];
        int tokens = states.Shape[1], dim = states.Shape[2];
        var mean = Enumerable.Range(0, dim).Select(d => Enumerable.Range(0, tokens).Average(t => (double)states.Data[t * dim + d])).ToArray();
        double norm = Math.Sqrt(mean.Sum(v => v * v));
        return mean.Select(v => (float)(v / norm)).ToArray();
    })];

    [Fact]
    public void DynamicInt8FidelityInOnnxRuntimeMatchesOurs()
    {
        var passages = Fortunes();
        var calibration = passages.Take(8).ToList();
        var evaluation = passages.Skip(200).Take(24).ToList();
        var model = new GraphModule(OnnxImporter.Import(PretrainedModels.MiniLmOnnx));
        var (quantized, report) = TextQuantizePipeline.Apply(model, Tokenizer.Value, calibration, evaluation,
            new QuantizeOptions { Mode = QuantizationMode.Dynamic }, new EmbeddingOptions());
        Assert.Equal(6 * 6 + 1 + 3, report.Layers.Count);   // 6 MatMuls per layer, the pooler's Gemm, 3 embedding tables
        Assert.True(report.CosineMean > 0.98, $"cosine {report.CosineMean}");

        var floatOrt = OrtEmbeddings(OnnxExporter.ToModel(model.Graph), evaluation);
        var originalOrt = OrtEmbeddings(global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(PretrainedModels.MiniLmOnnx)), evaluation);
        Assert.True(Fidelity.Measure(floatOrt, originalOrt).CosineMin > 0.99999, "the re-exported float model differs from the original");
        var ort = Fidelity.Measure(OrtEmbeddings(OnnxExporter.ToModel(quantized.Graph), evaluation), originalOrt);
        Assert.True(Math.Abs(ort.CosineMean - report.CosineMean) <= 0.002, $"ONNX Runtime {ort.CosineMean:F4}, ours {report.CosineMean:F4}");
        Assert.True(Math.Abs(ort.Spearman - report.Spearman) <= 0.01, $"ONNX Runtime {ort.Spearman:F4}, ours {report.Spearman:F4}");
    }

    [Fact]
    public void FourBitEmbeddingsShrinkTheDynamicInt8FileAndOnnxRuntimeAgrees()
    {
        var passages = Fortunes();
        var evaluation = passages.Skip(200).Take(24).ToList();
        var model = new GraphModule(OnnxImporter.Import(PretrainedModels.MiniLmOnnx));
        var (quantized, report) = TextQuantizePipeline.Apply(model, Tokenizer.Value, passages.Take(8).ToList(), evaluation,
            new QuantizeOptions { Mode = QuantizationMode.Dynamic, EmbeddingBits = 4 }, new EmbeddingOptions());
        Assert.Equal(3, report.Layers.Count(l => l.Bits == 4));   // word, position and token-type tables
        Assert.True(report.CosineMean > 0.98, $"cosine {report.CosineMean}");

        var file = OnnxExporter.ToModel(quantized.Graph);
        double share = (double)file.CalculateSize() / new FileInfo(PretrainedModels.MiniLmOnnx).Length;
        Assert.True(share < 0.21, $"{share:P1} of the fp32 file");   // 25.4 % with int8 tables
        var originalOrt = OrtEmbeddings(global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(PretrainedModels.MiniLmOnnx)), evaluation);
        var ort = Fidelity.Measure(OrtEmbeddings(file, evaluation), originalOrt);
        Assert.True(Math.Abs(ort.CosineMean - report.CosineMean) <= 0.002, $"ONNX Runtime {ort.CosineMean:F4}, ours {report.CosineMean:F4}");
    }
}
