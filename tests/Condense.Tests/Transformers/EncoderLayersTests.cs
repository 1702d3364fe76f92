// The layers of transformer graphs found by structure (post-norm BERT blocks, pre-norm GPT blocks, LayerNormalization
// or its decomposition), and students made by keeping some of them: kept weights bit for bit, dropping the last layer
// gives exactly the teacher's hidden state before it, and every student runs in ONNX Runtime with the same outputs.
using Condense.Graph;
using Condense.Onnx;
using Condense.Pruning;
using Condense.Tensors;
using Condense.Tests.Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Transformers;

public class EncoderLayersTests
{
    internal static GraphModule Load(global::Onnx.ModelProto model)
    {
        string path = OnnxTestModels.Save(model, "tiny-layers");
        try { return OnnxImporter.Load(path); }
        finally { File.Delete(path); }
    }

    internal static Dictionary<string, Tensor> Feed(int batch, int length, ulong seed)
    {
        var rng = new Rng(seed);
        var ids = Enumerable.Range(0, batch * length).Select(_ => (long)(rng.NextFloat() * TinyTransformer.Vocab)).ToArray();
        // The last two positions of the first sequence are padding.
        var mask = Enumerable.Range(0, batch * length).Select(i => i < length && i >= length - 2 ? 0L : 1L).ToArray();
        return new()
        {
            ["input_ids"] = Tensor.FromInt64s(ids, DataType.Int64, batch, length),
            ["attention_mask"] = Tensor.FromInt64s(mask, DataType.Int64, batch, length),
        };
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void FindsThePostNormLayersOfABertEncoder(long opset)
    {
        var model = Load(TinyTransformer.Bert(opset, layers: 3, heads: 4));
        var layers = EncoderLayers.Find(model);
        Assert.Equal(3, layers.Count);
        for (int k = 0; k < 3; k++)
        {
            Assert.Equal(4, layers[k].Heads);
            var roles = Assert.IsType<LayerProjections>(layers[k].Projections);
            Assert.Equal(2, roles.QueryKey.Count);
            Assert.All(new[] { roles.Value, roles.Output, roles.FeedForwardIn, roles.FeedForwardOut }, l => Assert.NotNull(l.Bias));
            Assert.Equal([TinyTransformer.Width, TinyTransformer.Hidden], model.Graph.Initializers[roles.FeedForwardIn.Weight].Shape);
            if (k > 0) Assert.Equal(layers[k - 1].Output, layers[k].Input);
        }
        // The last layer's output is the final layer norm, which the graph output copies.
        var identity = model.Graph.Nodes.Single(n => n.Outputs.Contains("last_hidden_state"));
        Assert.Equal(identity.Inputs[0], layers[^1].Output);
        // The layers do not share nodes.
        Assert.Empty(layers[0].Nodes.Intersect(layers[1].Nodes));
    }

    [Fact]
    public void FindsAPreNormDecoderBlockWithFusedProjections()
    {
        var model = Load(TinyTransformer.Decoder(17));
        var layer = Assert.Single(EncoderLayers.Find(model));
        Assert.Equal(TinyTransformer.Heads, layer.Heads);
        // One MatMul computes query, key and value, a Split cuts them apart.
        Assert.Equal(OpTypes.Split, layer.Projections?.FusedSplit?.OpType);
        // Pre-norm: the block's output is the second residual Add, which the final layer norm reads.
        var output = model.Graph.Nodes.Single(n => n.Outputs.Contains(layer.Output));
        Assert.Equal(OpTypes.Add, output.OpType);
        Assert.DoesNotContain(output.Inputs, i => model.Graph.Initializers.ContainsKey(i));
    }

    [Fact]
    public void AGraphWithoutAttentionHasNoLayers()
    {
        var mlp = Condense.Nn.ModelSpec.Parse("mlp:20-16-4").Build(1);
        Assert.Empty(EncoderLayers.Find(new GraphModule(GraphTracer.Trace(mlp, [20]))));
    }

    [Fact]
    public void DroppingTheLastLayerGivesTheTeachersHiddenStateBeforeIt()
    {
        var teacher = Load(TinyTransformer.Bert(17, layers: 3));
        var layers = EncoderLayers.Find(teacher);
        var feed = Feed(2, 6, 5);
        var hidden = teacher.Run(feed)[layers[1].Output];
        var student = LayerDropping.KeepLayers(teacher, layers, [0, 1]);
        var output = student.Run(feed)["last_hidden_state"];
        Assert.Equal(hidden.Shape, output.Shape);
        Assert.Equal(hidden.Data, output.Data);
        // Keeping every layer changes nothing.
        var all = LayerDropping.KeepLayers(teacher, layers, [0, 1, 2]);
        Assert.Equal(teacher.Run(feed)["last_hidden_state"].Data, all.Run(feed)["last_hidden_state"].Data);
    }

    [Theory]
    [InlineData(13, new[] { 0, 2 })]
    [InlineData(17, new[] { 1, 2 })]
    [InlineData(17, new[] { 1 })]
    public void AStudentKeepsItsLayersWeightsAndRunsInOnnxRuntime(long opset, int[] keep)
    {
        var teacher = Load(TinyTransformer.Bert(opset, layers: 3));
        var layers = EncoderLayers.Find(teacher);
        var student = LayerDropping.KeepLayers(teacher, layers, keep);
        var kept = EncoderLayers.Find(student);
        Assert.Equal(keep.Length, kept.Count);
        for (int i = 0; i < keep.Length; i++)
        {
            var theirs = layers[keep[i]].Projections!;
            var ours = kept[i].Projections!;
            Assert.Equal(theirs.FeedForwardOut.Weight, ours.FeedForwardOut.Weight);
            Assert.Equal(teacher.Graph.Initializers[theirs.Output.Weight].Data, student.Graph.Initializers[ours.Output.Weight].Data);
            Assert.Equal(teacher.Graph.Initializers[theirs.QueryKey[1].Weight].Data, student.Graph.Initializers[ours.QueryKey[1].Weight].Data);
        }
        // The dropped layers' weights are gone.
        int matMuls(GraphModule m) => m.Graph.Nodes.Count(n => n.OpType == OpTypes.MatMul && m.Graph.Initializers.ContainsKey(n.Inputs[1]));
        Assert.Equal(6 * keep.Length, matMuls(student));

        var feed = Feed(2, 6, 9);
        var model = global::Onnx.ModelProto.Parser.ParseFrom(OnnxExporter.ToBytes(student.Graph));
        var expected = TypedParity.RunOnnxRuntime(model, [.. feed.Select(f => (f.Key, f.Value))])["last_hidden_state"];
        var actual = student.Run(feed)["last_hidden_state"];
        double worst = expected.Data.Zip(actual.Data, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < 1e-4, $"student differs from ONNX Runtime by {worst:E2}");
    }

    [Fact]
    public void BadLayerListsAreOneLineErrors()
    {
        var teacher = Load(TinyTransformer.Bert(17, layers: 3));
        var layers = EncoderLayers.Find(teacher);
        Assert.Contains("layers 0–2", Assert.Throws<CondenseException>(() => LayerDropping.KeepLayers(teacher, layers, [0, 3])).Message);
        Assert.Contains("increasing", Assert.Throws<CondenseException>(() => LayerDropping.KeepLayers(teacher, layers, [2, 0])).Message);
        Assert.Equal([0, 3, 5], LayerDropping.EvenlySpaced(6, 3));
        Assert.Equal([0, 5], LayerDropping.EvenlySpaced(6, 2));
        Assert.Equal([0, 4, 7, 11], LayerDropping.EvenlySpaced(12, 4));
        Assert.Equal([5], LayerDropping.EvenlySpaced(6, 1));
        Assert.Equal([0, 1, 2], LayerDropping.EvenlySpaced(3, 3));
        Assert.Throws<CondenseException>(() => LayerDropping.EvenlySpaced(6, 7));
    }
}
