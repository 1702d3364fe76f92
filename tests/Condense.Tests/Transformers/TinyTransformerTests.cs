// The tiny GPT-style decoder and BERT-style encoder at opsets 11–17 import, run and match ONNX Runtime on
// several batch sizes and sequence lengths (one module, so the folded shape arithmetic is recomputed as they change).
using Condense.Inference;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Transformers;

public class TinyTransformerTests
{
    public static TheoryData<long, bool> Cases()
    {
        var data = new TheoryData<long, bool>();
        foreach (long opset in new long[] { 11, 12, 13, 14, 17 })
        {
            data.Add(opset, true);
            data.Add(opset, false);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesOnnxRuntime(long opset, bool decoder)
    {
        var model = decoder ? TinyTransformer.Decoder(opset) : TinyTransformer.Encoder(opset);
        string path = OnnxTestModels.Save(model, decoder ? "tiny-decoder" : "tiny-encoder");
        try
        {
            // ONNX Runtime runs first, so a fault in the model itself shows as its error.
            var module = new Lazy<Condense.Graph.GraphModule>(() => OnnxImporter.Load(path));
            foreach (var (batch, length) in new[] { (1, 5), (3, 7), (2, 7), (1, 1) })
            {
                var rng = new Rng((ulong)(batch * 31 + length));
                var ids = Tensor.FromInt64s(Enumerable.Range(0, batch * length).Select(_ => (long)(rng.NextFloat() * TinyTransformer.Vocab)).ToArray(),
                    DataType.Int64, batch, length);
                var inputs = new List<(string, Tensor)> { ("input_ids", ids) };
                if (!decoder)
                {
                    // The last two positions of the first sequence are padding.
                    var mask = Enumerable.Range(0, batch * length).Select(i => i < length && i >= length - 2 && length > 2 ? 0L : 1L).ToArray();
                    inputs.Add(("attention_mask", Tensor.FromInt64s(mask, DataType.Int64, batch, length)));
                }
                var expected = TypedParity.RunOnnxRuntime(model, [.. inputs]);
                var actual = ModelRunner.Run(module.Value, inputs.ToDictionary(i => i.Item1, i => i.Item2)).Outputs[0];
                var e = expected[actual.Key];
                Assert.Equal(e.Shape, actual.Value.Shape);
                double scale = Math.Max(1e-6, e.Data.Max(v => Math.Abs(v)));
                double worst = e.Data.Zip(actual.Value.Data, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max();
                Assert.True(worst <= 1e-4 * scale, $"opset {opset}, batch {batch}, length {length}: difference {worst:E2} of {scale:F3}");
            }
        }
        finally { File.Delete(path); }
    }
}
