// Every op the importer supports, checked against ONNX Runtime on a tiny graph built here: random
// inputs of ragged shapes (seeded), broadcasting where the op broadcasts, and the attribute variants
// exporters write. Each case is one small graph; ONNX Runtime's outputs are the oracle.
using Condense.Autograd;
using Condense.Graph;
using Condense.Graph.Ops;
using Condense.Onnx;
using Condense.Tensors;
using Microsoft.ML.OnnxRuntime;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = Condense.Tensors.Tensor;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    // Cases live in this file and in partial files per op family, each a static Dictionary<string, Case> named
    // *Cases; all of them together are the parity suite (a name may appear once).
    private static Dictionary<string, Case> AllCases => _combined ??= typeof(OnnxOpParityTests)
        .GetFields(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
        .Where(f => f.FieldType == typeof(Dictionary<string, Case>) && f.Name.EndsWith("Cases", StringComparison.Ordinal))
        .SelectMany(f => (Dictionary<string, Case>)f.GetValue(null)!)
        .ToDictionary(p => p.Key, p => p.Value);

    private static Dictionary<string, Case>? _combined;

    private sealed record Case(
        NodeProto[] Nodes, (string Name, int[] Shape)[] Inputs, TensorProto[] Initializers, long Opset = 13, float Low = -2f, float High = 2f);

    private static AttributeProto FloatAttr(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    private static AttributeProto StringAttr(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(value) };

    private static Case Unary(string op, params AttributeProto[] attributes) => new([Node(op, ["x"], "y", attributes)], [("x", [3, 7])], []);
    private static Case Binary(string op, int[] a, int[] b) => new([Node(op, ["a", "b"], "y")], [("a", a), ("b", b)], []);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["Gemm all attributes, bias broadcast"] = new(
            [Node("Gemm", ["a", "b", "c"], "y", Int("transA", 1), Int("transB", 1), FloatAttr("alpha", 0.7f), FloatAttr("beta", -1.3f))],
            [("a", [5, 3]), ("b", [4, 5]), ("c", [4])], []),
        ["Gemm default, matrix bias"] = new([Node("Gemm", ["a", "b", "c"], "y")], [("a", [3, 5]), ("b", [5, 4]), ("c", [3, 4])], []),
        ["Conv groups, stride, asymmetric pads, dilation, bias"] = new(
            [Node("Conv", ["x", "w", "b"], "y", Int("group", 2), Ints("strides", 2, 1), Ints("pads", 1, 0, 2, 1), Ints("dilations", 1, 2))],
            [("x", [2, 4, 7, 6]), ("w", [6, 2, 3, 2]), ("b", [6])], []),
        ["Conv auto_pad SAME_LOWER, no kernel_shape"] = new([Node("Conv", ["x", "w"], "y", StringAttr("auto_pad", "SAME_LOWER"), Ints("strides", 2, 2))],
            [("x", [1, 3, 6, 5]), ("w", [4, 3, 4, 3])], []),
        ["MaxPool 3×2, stride, pads, dilation, ceil"] = new(
            [Node("MaxPool", ["x"], "y",
                Ints("kernel_shape", 3, 2), Ints("strides", 2, 1), Ints("pads", 1, 0, 1, 1), Ints("dilations", 1, 2), Int("ceil_mode", 1))],
            [("x", [2, 3, 8, 7])], [], Opset: 12),
        ["AveragePool pads, count_include_pad"] = new(
            [Node("AveragePool", ["x"], "y", Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1), Int("count_include_pad", 1))],
            [("x", [2, 3, 7, 6])], []),
        ["GlobalAveragePool"] = new([Node("GlobalAveragePool", ["x"], "y")], [("x", [2, 3, 5, 4])], []),
        ["GlobalMaxPool"] = new([Node("GlobalMaxPool", ["x"], "y")], [("x", [2, 3, 5, 4])], []),
        ["BatchNormalization inference"] = new([Node("BatchNormalization", ["x", "g", "b", "m", "v"], "y", FloatAttr("epsilon", 1e-3f))],
            [("x", [2, 3, 4, 5])],
            [Floats("g", [0.5f, 1.5f, -1f], 3), Floats("b", [0.1f, -0.2f, 0.3f], 3), Floats("m", [0.2f, -0.1f, 0.05f], 3), Floats("v", [0.8f, 1.3f, 0.4f], 3)]),
        ["MatMul 2-D"] = Binary("MatMul", [7, 5], [5, 3]),
        ["MatMul 3-D × 2-D"] = Binary("MatMul", [2, 7, 5], [5, 3]),
        ["MatMul broadcast batches"] = Binary("MatMul", [2, 1, 3, 4], [3, 4, 5]),
        ["MatMul 1-D × 3-D"] = Binary("MatMul", [4], [2, 4, 3]),
        ["MatMul 3-D × 1-D"] = Binary("MatMul", [2, 3, 4], [4]),
        ["Add broadcast"] = Binary("Add", [3, 1, 5], [4, 1]),
        ["Sub broadcast"] = Binary("Sub", [5], [2, 3, 5]),
        ["Mul broadcast"] = Binary("Mul", [2, 3, 1], [1, 3, 4]),
        ["Div broadcast"] = new([Node("Div", ["a", "b"], "y")], [("a", [2, 3, 4]), ("b", [3, 1])], [], Low: 0.5f, High: 2f),
        ["Pow broadcast exponent"] = new([Node("Pow", ["a", "b"], "y")], [("a", [3, 4]), ("b", [4])], [], Low: 0.5f, High: 2f),
        ["Relu"] = Unary("Relu"),
        ["LeakyRelu"] = Unary("LeakyRelu", FloatAttr("alpha", 0.2f)),
        ["Sigmoid"] = Unary("Sigmoid"),
        ["Tanh"] = Unary("Tanh"),
        ["Exp"] = Unary("Exp"),
        ["Log"] = new([Node("Log", ["x"], "y")], [("x", [3, 7])], [], Low: 0.1f, High: 3f),
        ["Sqrt"] = new([Node("Sqrt", ["x"], "y")], [("x", [3, 7])], [], Low: 0.1f, High: 3f),
        ["Erf"] = Unary("Erf"),
        ["Gelu exact"] = new([Node("Gelu", ["x"], "y")], [("x", [3, 7])], [], Opset: 20, Low: -4f, High: 4f),
        ["Gelu tanh"] = new([Node("Gelu", ["x"], "y", StringAttr("approximate", "tanh"))], [("x", [3, 7])], [], Opset: 20, Low: -4f, High: 4f),
        ["Identity"] = Unary("Identity"),
        ["Softmax axis 1 of 3-D"] = new([Node("Softmax", ["x"], "y", Int("axis", 1))], [("x", [2, 5, 3])], []),
        ["LogSoftmax axis 0"] = new([Node("LogSoftmax", ["x"], "y", Int("axis", 0))], [("x", [4, 3])], []),
        // Before opset 13 the input is coerced to 2-D at axis (default 1) and normalized over all trailing axes.
        ["Softmax opset 11, axis 1 of 3-D (coerced)"] = new([Node("Softmax", ["x"], "y", Int("axis", 1))], [("x", [2, 5, 3])], [], Opset: 11),
        ["Softmax opset 12, default axis of 4-D"] = new([Node("Softmax", ["x"], "y")], [("x", [2, 3, 2, 4])], [], Opset: 12),
        ["LogSoftmax opset 11, axis 0"] = new([Node("LogSoftmax", ["x"], "y", Int("axis", 0))], [("x", [3, 2, 4])], [], Opset: 11),
        ["Softmax opset 11, axis -1"] = new([Node("Softmax", ["x"], "y", Int("axis", -1))], [("x", [2, 3, 4])], [], Opset: 11),
        ["Flatten axis 2"] = new([Node("Flatten", ["x"], "y", Int("axis", 2))], [("x", [2, 3, 4, 5])], []),
        ["Reshape 0 and -1"] = new([Node("Reshape", ["x", "s"], "y")], [("x", [2, 3, 4])], [Longs("s", [0, -1, 2], 3)]),
        ["Transpose perm"] = new([Node("Transpose", ["x"], "y", Ints("perm", 1, 2, 0))], [("x", [2, 3, 4])], []),
        ["Concat axis -1"] = new([Node("Concat", ["a", "b"], "y", Int("axis", -1))], [("a", [2, 3]), ("b", [2, 5])], []),
        ["Dropout at inference"] = new([Node("Dropout", ["x", "r"], "y")], [("x", [3, 4])], [Floats("r", [0.3f])]),
        ["Clip min only"] = new([Node("Clip", ["x", "lo"], "y")], [("x", [3, 7])], [Floats("lo", [-0.5f])]),
        ["Clip opset 6 attributes"] = new([Node("Clip", ["x"], "y", FloatAttr("min", -0.5f), FloatAttr("max", 0.7f))], [("x", [3, 7])], [], Opset: 7),
        ["ReduceMean two axes"] = new([Node("ReduceMean", ["x"], "y", Ints("axes", 0, 2), Int("keepdims", 0))], [("x", [2, 3, 4])], []),
        ["ReduceSum axes input"] = new([Node("ReduceSum", ["x", "ax"], "y")], [("x", [2, 3, 4])], [Longs("ax", [-1], 1)]),
        ["ReduceSumSquare all"] = new([Node("ReduceSumSquare", ["x"], "y", Int("keepdims", 0))], [("x", [2, 3, 4])], []),
        ["ReduceMax axis 1"] = new([Node("ReduceMax", ["x"], "y", Ints("axes", 1))], [("x", [2, 3, 4])], []),
        ["ReduceMin axis 0 no keepdims"] = new([Node("ReduceMin", ["x"], "y", Ints("axes", 0), Int("keepdims", 0))], [("x", [2, 3, 4])], []),
        ["Shape start/end, Cast"] = new(
            [Node("Shape", ["x"], "s", Int("start", 1), Int("end", -1)), Node("Cast", ["s"], "y", Int("to", 1))],
            [("x", [2, 3, 4, 5])], [], Opset: 15),
        ["Gather axis 1, negative indices"] = new([Node("Gather", ["x", "i"], "y", Int("axis", 1))], [("x", [3, 5, 2])], [Longs("i", [-1, 0, 3, -2], 2, 2)]),
        ["Unsqueeze two axes"] = new([Node("Unsqueeze", ["x", "ax"], "y")], [("x", [3, 4])], [Longs("ax", [0, -1], 2)]),
        ["Squeeze all ones"] = new([Node("Squeeze", ["x"], "y")], [("x", [1, 3, 1, 4])], []),
        ["Cast through float16"] = new(
            [Node("Cast", ["x"], "h", Int("to", 10)), Node("Cast", ["h"], "y", Int("to", 1))],
            [("x", [3, 7])], [], Low: -100f, High: 100f),
        ["Cast through int32"] = new([Node("Cast", ["x"], "i", Int("to", 6)), Node("Cast", ["i"], "y", Int("to", 1))], [("x", [3, 7])], [], Low: -9f, High: 9f),
        // Comparisons and logic give bool; a Cast back to float lets ONNX Runtime and Condense be read alike.
        ["Equal, Less, LessOrEqual, Greater, GreaterOrEqual, And, Or, Xor, Not"] = new(
            [Node("Cast", ["a"], "ai", Int("to", 7)), Node("Cast", ["b"], "bi", Int("to", 7)), Node("Equal", ["ai", "bi"], "e"),
                Node("Less", ["a", "b"], "l"), Node("LessOrEqual", ["a", "b"], "le"), Node("Greater", ["a", "b"], "g"),
                Node("GreaterOrEqual", ["a", "b"], "ge"), Node("And", ["l", "le"], "p"), Node("Or", ["p", "e"], "q"),
                Node("Xor", ["q", "g"], "r"), Node("Not", ["r"], "n"), Node("And", ["n", "ge"], "m"), Node("Cast", ["m"], "y", Int("to", 1))],
            [("a", [4, 5]), ("b", [5])], [], Low: -3f, High: 3f),
        ["Where, broadcast condition"] = new([Node("Greater", ["a", "b"], "c"), Node("Where", ["c", "a", "b"], "y")], [("a", [3, 4]), ("b", [4])], []),
        ["Constant"] = new(
            [Node("Constant", [], "c", TensorValue("value", Floats("c", [1f, -2f, 3f], 3))), Node("Mul", ["x", "c"], "y")],
            [("x", [2, 3])], []),
        ["ConstantOfShape"] = new(
            [Node("ConstantOfShape", ["s"], "c", TensorValue("value", Floats("v", [0.25f], 1))), Node("Add", ["x", "c"], "y")],
            [("x", [2, 3])], [Longs("s", [2, 3], 2)], Opset: 9),
        ["Expand"] = new([Node("Expand", ["x", "s"], "y")], [("x", [3, 1])], [Longs("s", [2, 1, 4], 3)]),
        ["Pad constant"] = new([Node("Pad", ["x", "p", "v"], "y")], [("x", [2, 3])], [Longs("p", [1, 0, 2, 1], 4), Floats("v", [0.5f])]),
        ["Pad reflect"] = new([Node("Pad", ["x", "p"], "y", StringAttr("mode", "reflect"))], [("x", [3, 4])], [Longs("p", [0, 2, 1, 3], 4)]),
        ["Pad edge opset 2 attributes"] = new(
            [Node("Pad", ["x"], "y", StringAttr("mode", "edge"), Ints("pads", 1, 1, 0, 2))],
            [("x", [3, 4])], [], Opset: 7),
        ["QuantizeLinear → DequantizeLinear"] = new(
            [Node("QuantizeLinear", ["x", "s", "z"], "q"), Node("DequantizeLinear", ["q", "s", "z"], "y")],
            [("x", [3, 7])], [Floats("s", [0.02f]), UInt8("z", 120)]),
        ["DynamicQuantizeLinear → DequantizeLinear"] = new(
            [DynamicQuantize(), Node("DequantizeLinear", ["q", "qs", "qz"], "y")],
            [("x", [3, 7])], [], Opset: 11),
        // Integer products of uint8 codes (Cast truncates the float input to them), per-column and per-tensor zero points.
        ["MatMulInteger per-column zero points"] = new(
            [Node("Cast", ["x"], "xq", Int("to", 2)), Node("MatMulInteger", ["xq", "w", "xz", "wz"], "acc"), Node("Cast", ["acc"], "y", Int("to", 1))],
            [("x", [3, 7])], [Int8s("w", 35, 7, 5), UInt8("xz", 131), Int8s("wz", 5, 5)], Low: 0f, High: 255f),
        ["ConvInteger strided, padded"] = new(
            [Node("Cast", ["x"], "xq", Int("to", 2)), Node("ConvInteger", ["xq", "w", "xz"], "acc", Ints("pads", 1, 0, 1, 2), Ints("strides", 2, 1)),
                Node("Cast", ["acc"], "y", Int("to", 1))],
            [("x", [2, 3, 6, 5])], [Int8s("w", 108, 4, 3, 3, 3), UInt8("xz", 7)], Low: 0f, High: 255f),
    };

    private static TensorProto UInt8(string name, byte value) => new() { Name = name, DataType = 2, RawData = Google.Protobuf.ByteString.CopyFrom(value) };

    // Seeded int8 values in [−128, 127], or [−64, 63] where ONNX Runtime's u8 × s8 products saturate (OrtInt8).
    private static TensorProto Int8s(string name, int count, params long[] dims)
    {
        var rng = new Rng((ulong)count);
        int levels = OrtInt8.Exact ? 256 : 128;
        var bytes = Enumerable.Range(0, count).Select(_ => (byte)(sbyte)((int)(rng.NextDouble() * levels) - levels / 2)).ToArray();
        var t = new TensorProto { Name = name, DataType = 3, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static NodeProto DynamicQuantize()
    {
        var n = new NodeProto { OpType = "DynamicQuantizeLinear", Name = "/dql" };
        n.Input.Add("x");
        n.Output.AddRange(["q", "qs", "qz"]);
        return n;
    }

    public static TheoryData<string> CaseNames() => [.. AllCases.Keys];

    [Fact]
    public void EveryRegisteredOpHasACase()
    {
        // The QOperator ops the importer rewrites into QDQ have theirs in QOperatorImportTests; the engine's own fused op
        // (never imported) is compared with the graph it replaces in DynamicMatMulFusionTests.
        var covered = AllCases.Values.SelectMany(c => c.Nodes).Select(n => n.OpType).ToHashSet();
        Assert.Empty(OpRegistry.All.Where(d => d.Import is not (OpImport.RewrittenToQdq or OpImport.EngineOnly) && !covered.Contains(d.Name))
            .Select(d => d.Name).Order());
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void GradientsFlowAsRegistered(string name)
    {
        // Each node's first output carries a gradient exactly when its entry gives the op one and an input carries one
        // (a Cast that changes the type carries none: gradients live on float32).
        var c = AllCases[name];
        string path = Save(ModelOf(c), "gradient");
        try
        {
            var graph = OnnxImporter.Import(path);
            foreach (var n in graph.Nodes.Where(n => graph.Outputs.All(o => o.Name != n.Outputs[0]))) graph.Outputs.Add(new ValueInfo(n.Outputs[0], []));
            var module = new GraphModule(graph);
            module.Eval();
            ulong seed = 1;
            var feeds = c.Inputs.ToDictionary(i => i.Name, i => Tensor.Uniform(new Rng(seed++), c.Low, c.High, i.Shape));
            foreach (var feed in feeds.Values) feed.RequiresGrad = true;
            var values = module.Run(feeds);
            bool Carries(string value) => values.TryGetValue(value, out var t) ? t.RequiresGrad
                : feeds.ContainsKey(value) || (graph.Trainable.Contains(value) && module.StateDict()[value].RequiresGrad);
            foreach (var n in graph.Nodes)
            {
                var def = OpRegistry.Find(n.OpType)!;
                bool integerCast = n.OpType == OpTypes.Cast && n.Int("to", 1) != 1;
                bool expected = def.Gradient != OpGradient.None && !integerCast && n.Inputs.Any(Carries);
                Assert.True(expected == values[n.Outputs[0]].RequiresGrad, $"{name}: node {n.Name} ({n.OpType})");
            }
        }
        finally { File.Delete(path); }
    }

    private static ModelProto ModelOf(Case c)
    {
        var graph = new GraphProto { Name = "parity" };
        graph.Node.AddRange(c.Nodes);
        foreach (var (input, shape) in c.Inputs) graph.Input.Add(Value(input, shape.Select(d => (long)d).ToArray()));
        graph.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        graph.Initializer.AddRange(c.Initializers);
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Condense.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = c.Opset });
        return model;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void OpMatchesOnnxRuntime(string name)
    {
        var c = AllCases[name];
        var graph = new GraphProto { Name = "parity" };
        graph.Node.AddRange(c.Nodes);
        foreach (var (input, shape) in c.Inputs) graph.Input.Add(Value(input, shape.Select(d => (long)d).ToArray()));
        graph.Output.Add(new ValueInfoProto { Name = "y", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });
        graph.Initializer.AddRange(c.Initializers);
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Condense.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = c.Opset });

        ulong seed = (ulong)name.Length * 7919;
        var feeds = c.Inputs.ToDictionary(i => i.Name, i => Tensor.Uniform(new Rng(seed++), c.Low, c.High, i.Shape));
        float[] expected;
        int[] expectedShape;
        using (var session = new InferenceSession(model.ToByteArray()))
        {
            var values = feeds.Select(f => NamedOnnxValue.CreateFromTensor(f.Key, new DenseTensor<float>(f.Value.Data, f.Value.Shape))).ToList();
            using var results = session.Run(values);
            var y = results.First().AsTensor<float>();
            expected = y.ToArray();
            expectedShape = y.Dimensions.ToArray();
        }

        string path = Save(model, "parity");
        try
        {
            var module = OnnxImporter.Load(path);
            module.Eval();
            Tensor actual;
            using (GradMode.NoGrad()) actual = module.Run(feeds)["y"];
            Assert.Equal(expectedShape, actual.Shape);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - actual.Data[i]) <= 1e-5f + 1e-5f * Math.Abs(expected[i]),
                    $"{name}: element {i} is {actual.Data[i]}, ONNX Runtime {expected[i]}");
        }
        finally { File.Delete(path); }
    }
}
