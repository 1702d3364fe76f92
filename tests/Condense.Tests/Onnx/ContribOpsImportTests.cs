// The com.microsoft ops ONNX Runtime's optimizer writes, read as the standard ops they stand for (Onnx/ContribOpsImport):
// each small model computes what ONNX Runtime's own contrib kernels compute, and a fused op Condense does not rewrite
// (MultiHeadAttention) is a one-line refusal naming it. Attention and EmbedLayerNormalization: ContribAttentionImportTests.
using Condense.Graph;
using Condense.Tensors;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public sealed class ContribOpsImportTests
{
    private static NodeProto Contrib(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = $"/{op}", Domain = "com.microsoft" };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static AttributeProto FloatAttribute(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    private static AttributeProto FloatsAttribute(string name, params float[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    private static AttributeProto StringAttribute(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(value) };

    public static TheoryData<string> Cases() => ["FusedMatMul transB alpha", "FusedMatMul transA", "BiasGelu", "Gelu", "FastGelu with bias",
        "FusedGemm LeakyRelu", "SkipLayerNormalization with bias and sum", "FusedConv Clip", "FusedConv Relu with a summand"];

    private static (ModelProto Model, (string, Tensor)[] Inputs) Case(string name)
    {
        var rng = new Rng(31);
        Tensor Random(params int[] shape) => Tensor.Uniform(rng, -2f, 2f, shape);
        var (nodes, inputs, initializers) = name switch
        {
            "FusedMatMul transB alpha" => ([Contrib("FusedMatMul", ["a", "b"], ["y"], Int("transB", 1), FloatAttribute("alpha", 0.125f))],
                new[] { ("a", Random(2, 3, 4, 5)), ("b", Random(2, 3, 6, 5)) }, Array.Empty<TensorProto>()),
            "FusedMatMul transA" => ([Contrib("FusedMatMul", ["a", "b"], ["y"], Int("transA", 1))],
                new[] { ("a", Random(3, 5, 4)), ("b", Random(3, 5, 2)) }, []),
            "BiasGelu" => ([Contrib("BiasGelu", ["a", "bias"], ["y"])], new[] { ("a", Random(2, 3, 8)) }, [Floats("bias", [.. Random(8).Data], 8)]),
            "Gelu" => ([Contrib("Gelu", ["a"], ["y"])], new[] { ("a", Random(4, 6)) }, []),
            "FastGelu with bias" => ([Contrib("FastGelu", ["a", "bias"], ["y"])], new[] { ("a", Random(2, 3, 8)) }, [Floats("bias", [.. Random(8).Data], 8)]),
            "FusedGemm LeakyRelu" => ([Contrib("FusedGemm", ["a", "w", "c"], ["y"], Int("transB", 1), FloatAttribute("alpha", 0.5f),
                StringAttribute("activation", "LeakyRelu"), FloatAttribute("activation_alpha", 0.1f))],
                new[] { ("a", Random(4, 6)) }, [Floats("w", [.. Random(3, 6).Data], 3, 6), Floats("c", [.. Random(3).Data], 3)]),
            "FusedConv Clip" => ([Contrib("FusedConv", ["a", "w", "c"], ["y"], Ints("pads", 1, 1, 1, 1), Ints("strides", 2, 2),
                StringAttribute("activation", "Clip"), FloatsAttribute("activation_params", 0f, 1.5f))],
                new[] { ("a", Random(1, 3, 7, 6)) }, [Floats("w", [.. Random(4, 3, 3, 3).Data], 4, 3, 3, 3), Floats("c", [.. Random(4).Data], 4)]),
            "FusedConv Relu with a summand" => ([Contrib("FusedConv", ["a", "w", "c", "z"], ["y"], Ints("pads", 1, 1, 1, 1),
                StringAttribute("activation", "Relu"))],
                new[] { ("a", Random(1, 3, 5, 5)), ("z", Random(1, 4, 5, 5)) },
                [Floats("w", [.. Random(4, 3, 3, 3).Data], 4, 3, 3, 3), Floats("c", [.. Random(4).Data], 4)]),
            _ => (new[] { Contrib("SkipLayerNormalization", ["a", "skip", "gamma", "beta", "bias"], ["n", "", "", "sum"], FloatAttribute("epsilon", 1e-3f)),
                    Node("Add", ["n", "sum"], "y") },
                new[] { ("a", Random(2, 3, 8)), ("skip", Random(2, 3, 8)) },
                new[] { Floats("gamma", [.. Random(8).Data], 8), Floats("beta", [.. Random(8).Data], 8), Floats("bias", [.. Random(8).Data], 8) }),
        };
        var model = Model(nodes, Value(inputs[0].Item1, [.. inputs[0].Item2.Shape.Select(d => (long)d)]), Value("y"), initializers, opset: 14);
        foreach (var (input, value) in inputs.Skip(1)) model.Graph.Input.Add(Value(input, [.. value.Shape.Select(d => (long)d)]));
        model.Graph.Output[0].Type.TensorType.Shape = null;
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return (model, inputs);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ComputesWhatOnnxRuntimeComputes(string name)
    {
        var (model, inputs) = Case(name);
        var expected = TypedParity.RunOnnxRuntime(model, inputs)["y"];
        string path = Save(model, "contrib");
        try
        {
            var graph = Condense.Onnx.OnnxImporter.Import(path);
            Assert.All(graph.Nodes, n => Assert.NotEqual(name.Split(' ')[0], n.OpType));
            var y = new GraphModule(graph).Run(inputs.ToDictionary(i => i.Item1, i => i.Item2))["y"];
            Condense.Tests.Graph.TensorAsserts.Close(new Tensor([.. expected.Data], expected.Shape), y, 1e-4f);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void AFusedAttentionIsRefusedByName()
    {
        var model = Model([Contrib("MultiHeadAttention", ["a", "a", "a"], ["y"], Int("num_heads", 2))], Value("a", 1, 4, 8), Value("y", 1, 4, 8),
            opset: 14);
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        string path = Save(model, "attention");
        try
        {
            var e = Assert.ThrowsAny<CondenseException>(() => Condense.Onnx.OnnxImporter.Import(path));
            Assert.Contains("MultiHeadAttention", e.Message);
            Assert.Contains("transformer optimizer", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { File.Delete(path); }
    }
}
