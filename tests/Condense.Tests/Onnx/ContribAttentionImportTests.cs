// ONNX Runtime's fused BERT ops — com.microsoft Attention and EmbedLayerNormalization, as its Python transformer optimizer
// writes them into Hugging Face Optimum's model_O2 … O4 files — read as the standard ops they stand for
// (Onnx/ContribOpsImport.Attention.cs): each small encoder computes what ONNX Runtime's own contrib kernels compute on
// right-padded batches (masks as lengths from EmbedLayerNormalization, raw 2-D and 3-D masks, causal with and without a
// mask, a custom scale and a narrower value projection, an additive attention bias, segments and position ids), the
// imported graph has no fused op left (nor the merged weight it split), the encoder's layer is found with its query, key and value projections (what head
// removal needs), and a key/value cache is refused by name.
using Condense.Graph;
using Condense.Tensors;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public sealed class ContribAttentionImportTests
{
    private const int Batch = 2, Length = 5, Hidden = 8, Vocabulary = 11;

    private static NodeProto Contrib(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = $"/{op}_{outputs[0]}", Domain = "com.microsoft" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static ValueInfoProto Typed(string name, int elementType, params long[] dims)
    {
        var value = Value(name, dims);
        value.Type.TensorType.ElemType = elementType;
        return value;
    }

    private static AttributeProto FloatAttribute(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static TheoryData<string> Cases() => ["lengths from the embeddings", "raw mask", "raw 3-D mask", "causal with a mask", "causal",
        "scale and narrow values", "attention bias", "segments and position ids", "whole layer"];

    // A one-layer encoder: (embeddings or a float input) → Attention → y, and the inputs ONNX Runtime and Condense are fed.
    private static (ModelProto Model, (string, Tensor)[] Inputs) Case(string name)
    {
        var rng = new Rng(41);
        Tensor Random(float range, params int[] shape) => Tensor.Uniform(rng, -range, range, shape);
        TensorProto Weights(string n, float range, params int[] shape) => Floats(n, [.. Random(range, shape).Data], [.. shape.Select(d => (long)d)]);
        // Right padding: the second passage has three tokens.
        var mask = Tensor.FromInt64s([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], DataType.Int64, Batch, Length);
        var ids = Tensor.FromInt64s([.. Enumerable.Range(0, Batch * Length).Select(i => (long)(i * 7 % Vocabulary))], DataType.Int64, Batch, Length);
        bool embedded = name is "lengths from the embeddings" or "segments and position ids" or "whole layer";
        int valueWidth = name == "scale and narrow values" ? 4 : Hidden;
        var nodes = new List<NodeProto>();
        var inputs = new List<(string, Tensor)>();
        var declared = new List<ValueInfoProto>();
        var initializers = new List<TensorProto>
        {
            Weights("w", 0.6f, Hidden, 2 * Hidden + valueWidth), Weights("b", 0.3f, 2 * Hidden + valueWidth),
        };
        string maskIndex = "";
        if (embedded)
        {
            inputs.Add(("input_ids", ids));
            inputs.Add(("attention_mask", mask));
            declared.Add(Typed("input_ids", 7, Batch, Length));
            declared.Add(Typed("attention_mask", 7, Batch, Length));
            nodes.Add(Node("Cast", ["input_ids"], "ids32", Int("to", 6)));
            nodes.Add(Node("Cast", ["attention_mask"], "mask32", Int("to", 6)));
            initializers.AddRange([Weights("word", 1f, Vocabulary, Hidden), Weights("position", 1f, 16, Hidden), Weights("segment", 1f, 2, Hidden),
                Weights("gamma", 1f, Hidden), Weights("beta", 1f, Hidden)]);
            string[] embeddingInputs = name == "segments and position ids"
                ? ["ids32", "segments", "word", "position", "segment", "gamma", "beta", "mask32", "positions"]
                : ["ids32", "", "word", "position", "", "gamma", "beta", "mask32"];
            if (name == "segments and position ids")
            {
                inputs.Add(("segments", Tensor.FromInt64s([0, 0, 1, 1, 1, 0, 1, 1, 0, 0], DataType.Int32, Batch, Length)));
                inputs.Add(("positions", Tensor.FromInt64s([3, 4, 5, 6, 7], DataType.Int32, 1, Length)));
                declared.Add(Typed("segments", 6, Batch, Length));
                declared.Add(Typed("positions", 6, 1, Length));
            }
            nodes.Add(Contrib("EmbedLayerNormalization", embeddingInputs, ["x", "mask_index", name == "segments and position ids" ? "sum" : ""],
                FloatAttribute("epsilon", 1e-5f)));
            maskIndex = "mask_index";
        }
        else
        {
            inputs.Add(("x", Random(1.5f, Batch, Length, Hidden)));
            declared.Add(Value("x", Batch, Length, Hidden));
            if (name is "raw mask" or "causal with a mask")
            {
                inputs.Add(("mask", Tensor.FromInt64s([.. mask.Int64Data], DataType.Int32, Batch, Length)));
                declared.Add(Typed("mask", 6, Batch, Length));
                maskIndex = "mask";
            }
            if (name == "raw 3-D mask")
            {
                var mask3 = Enumerable.Range(0, Batch * Length * Length).Select(i => (long)(i * 5 % 7 == 0 ? 0 : 1)).ToArray();
                inputs.Add(("mask", Tensor.FromInt64s(mask3, DataType.Int32, Batch, Length, Length)));
                declared.Add(Typed("mask", 6, Batch, Length, Length));
                maskIndex = "mask";
            }
        }
        var attributes = new List<AttributeProto> { Int("num_heads", 2) };
        if (name.StartsWith("causal")) attributes.Add(Int("unidirectional", 1));
        if (name == "scale and narrow values")
        {
            attributes.Add(FloatAttribute("scale", 0.3f));
            attributes.Add(Ints("qkv_hidden_sizes", Hidden, Hidden, valueWidth));
        }
        string[] attentionInputs = name == "attention bias" ? ["x", "w", "b", "", "", "bias"] : ["x", "w", "b", maskIndex];
        if (name == "attention bias")
        {
            inputs.Add(("bias", Random(2f, 1, 2, Length, Length)));
            declared.Add(Value("bias", 1, 2, Length, Length));
        }
        nodes.Add(Contrib("Attention", attentionInputs, ["context"], [.. attributes]));
        if (name == "whole layer")
        {
            // The rest of a post-norm BERT layer as the optimizer leaves it: output projection, residual norm, GELU feed-forward.
            initializers.AddRange([Weights("wo", 0.5f, Hidden, Hidden), Weights("bo", 0.3f, Hidden), Weights("g1", 1f, Hidden), Weights("b1", 1f, Hidden),
                Weights("wi", 0.5f, Hidden, 16), Weights("bi", 0.3f, 16), Weights("wd", 0.5f, 16, Hidden), Weights("bd", 0.3f, Hidden),
                Weights("g2", 1f, Hidden), Weights("b2", 1f, Hidden)]);
            nodes.Add(Node("MatMul", ["context", "wo"], "o"));
            nodes.Add(Contrib("SkipLayerNormalization", ["o", "x", "g1", "b1", "bo"], ["h"], FloatAttribute("epsilon", 1e-5f)));
            nodes.Add(Node("MatMul", ["h", "wi"], "f"));
            nodes.Add(Contrib("BiasGelu", ["f", "bi"], ["g"]));
            nodes.Add(Node("MatMul", ["g", "wd"], "d"));
            nodes.Add(Contrib("SkipLayerNormalization", ["d", "h", "g2", "b2", "bd"], ["y"], FloatAttribute("epsilon", 1e-5f)));
        }
        else nodes.Add(name == "segments and position ids" ? Node("Add", ["context", "sum"], "y") : Node("Identity", ["context"], "y"));
        var model = Model(nodes, declared[0], Value("y"), initializers, opset: 14);
        model.Graph.Input.AddRange(declared.Skip(1));
        model.Graph.Output[0].Type.TensorType.Shape = null;
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return (model, [.. inputs]);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ComputesWhatOnnxRuntimeComputes(string name)
    {
        var (model, inputs) = Case(name);
        var expected = TypedParity.RunOnnxRuntime(model, inputs)["y"];
        string path = Save(model, "contrib-attention");
        try
        {
            var graph = Condense.Onnx.OnnxImporter.Import(path);
            Assert.DoesNotContain(graph.Nodes, n => n.OpType is "Attention" or "EmbedLayerNormalization");
            // The merged Q/K/V weight and bias, split into three, are not kept beside them.
            Assert.False(graph.Initializers.ContainsKey("w") || graph.Initializers.ContainsKey("b"));
            var y = new GraphModule(graph).Run(inputs.ToDictionary(i => i.Item1, i => i.Item2))["y"];
            Condense.Tests.Graph.TensorAsserts.Close(new Tensor([.. expected.Data], expected.Shape), y, 1e-4f);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TheLayerIsFoundWithItsThreeProjections()
    {
        var (model, inputs) = Case("whole layer");
        string path = Save(model, "contrib-attention-layer");
        try
        {
            var module = new GraphModule(Condense.Onnx.OnnxImporter.Import(path));
            var layer = Assert.Single(EncoderLayers.Find(module, inputs.ToDictionary(i => i.Item1, i => i.Item2)));
            Assert.Equal(2, layer.Heads);
            var roles = Assert.IsType<LayerProjections>(layer.Projections);
            Assert.Equal(["/Attention_context/query/weight", "/Attention_context/key/weight"], roles.QueryKey.Select(l => l.Weight));
            Assert.Equal("/Attention_context/value/weight", roles.Value.Weight);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AKeyValueCacheIsRefusedByName()
    {
        var model = Model([Contrib("Attention", ["a", "w", "b", "", "past"], ["y", "present"], Int("num_heads", 2))], Value("a", 1, 4, 8),
            Value("y", 1, 4, 8), [Floats("w", new float[8 * 24], 8, 24), Floats("b", new float[24], 24)], opset: 14);
        model.Graph.Input.Add(Value("past", 2, 1, 2, 0, 4));
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        string path = Save(model, "attention-past");
        try
        {
            var e = Assert.ThrowsAny<CondenseException>(() => Condense.Onnx.OnnxImporter.Import(path));
            Assert.Contains("Attention", e.Message);
            Assert.Contains("past", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { File.Delete(path); }
    }
}
