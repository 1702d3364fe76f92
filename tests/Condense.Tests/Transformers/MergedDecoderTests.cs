// Hugging Face Optimum's merged decoder (Fixtures/onnx/export-decoder-merged.py: the GPT-2 of export-decoder-past.py as
// one If on use_cache_branch, with the cache in its then-branch and without it in its else-branch) imports as its branch
// without the cache: PyTorch's logits, ONNX Runtime's on the merged file itself (either branch, from an empty cache), and a
// file that ONNX Runtime runs when written back. Any other If is refused in one line.
using Condense.Autograd;
using Condense.Data;
using Condense.Inference;
using Condense.Formats;
using Condense.Graph;
using Condense.Tensors;
using Google.Protobuf;

namespace Condense.Tests.Transformers;

public sealed class MergedDecoderTests
{
    private static readonly string Merged = DecoderWithPastTests.Fixture("decoder-merged-op14.onnx");

    [Fact]
    public void TheMergedDecoderRunsAsItsBranchWithoutTheCache()
    {
        var model = ModelFile.Load(Merged);
        model.Eval();
        Assert.Equal(["input_ids", "attention_mask", "position_ids"], model.Graph.Inputs.Select(i => i.Name));
        Assert.Equal(["logits", "present.0.key", "present.0.value", "present.1.key", "present.1.value"], model.Graph.Outputs.Select(o => o.Name));
        var batch = DecoderWithPastTests.Tokenizer().Batch(DecoderWithPastTests.Passages, 128);
        var feed = batch.Feed(model.Graph);
        var ids = Npy.Read(DecoderWithPastTests.Fixture("lm.input_ids.npy"));
        feed["input_ids"] = Tensor.FromInt64s([.. ids.ToFloat().Select(v => (long)v)], DataType.Int64, ids.Shape);
        Tensor logits;
        using (GradMode.NoGrad()) logits = model.Run(feed)["logits"];
        // PyTorch's logits at the real tokens (the fixture's padding differs from ours).
        var expected = Npy.Read(DecoderWithPastTests.Fixture("lm.expected.npy")).ToFloat();
        Assert.Equal(Npy.Read(DecoderWithPastTests.Fixture("lm.expected.npy")).Shape, logits.Shape);
        int vocabulary = logits.Shape[2];
        float scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            if (batch.AttentionMask.Int64Data[i / vocabulary] == 1) Assert.True(Math.Abs(expected[i] - logits.Data[i]) <= 1e-5f * scale, $"logit {i}");
        // ONNX Runtime on the merged file, from an empty cache, on either branch.
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Merged));
        foreach (bool useCache in new[] { false, true })
        {
            var inputs = feed.Select(f => (f.Key, f.Value)).ToList();
            foreach (var name in proto.Graph.Input.Select(i => i.Name).Where(n => n.StartsWith("past_key_values.", StringComparison.Ordinal)))
                inputs.Add((name, new Tensor([], [2, 2, 0, 8])));
            inputs.Add(("use_cache_branch", Tensor.FromInt64s([useCache ? 1 : 0], DataType.Bool, [1])));
            var ort = Onnx.TypedParity.RunOnnxRuntime(proto, [.. inputs]);
            Graph.TensorAsserts.Close(ort["logits"], logits, 1e-4f);
        }
        // Written back, the model is the branch alone, which ONNX Runtime runs on the same feed.
        var written = global::Onnx.ModelProto.Parser.ParseFrom(Condense.Onnx.OnnxExporter.ToBytes(model.Graph));
        Assert.DoesNotContain(written.Graph.Node, n => n.OpType == "If");
        Graph.TensorAsserts.Close(Onnx.TypedParity.RunOnnxRuntime(written, [.. feed.Select(f => (f.Key, f.Value))])["logits"], logits, 1e-4f);
    }

    [Fact]
    public void AnIfOnAnotherConditionIsRefusedInOneLine()
    {
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Merged));
        proto.Graph.Input.Single(i => i.Name == "use_cache_branch").Name = "flag";
        proto.Graph.Node.Single(n => n.OpType == "If").Input[0] = "flag";
        using var folder = new Data.TempDir();
        File.WriteAllBytes(folder.File("flag.onnx"), proto.ToByteArray());
        var e = Assert.Throws<InvalidFileException>(() => ModelFile.Load(folder.File("flag.onnx")));
        Assert.Contains("control flow is not supported", e.Message);
        Assert.Contains("'optimum::if'", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
