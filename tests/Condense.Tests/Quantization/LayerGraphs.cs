// Small float graphs for the data-free quantization tests, built node by node so that each op the passes treat differently
// (LeakyRelu, PRelu, Clip, depthwise and grouped Conv, Gemm without transB, MatMul, fan-out) is where the test wants it.
// Output channels get ranges spread over two orders of magnitude, the case cross-layer equalization is for.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

internal sealed class LayerGraphs
{
    private readonly ModelGraph _graph = new();
    private readonly Rng _rng;

    public LayerGraphs(int[] input, ulong seed)
    {
        _rng = new Rng(seed);
        _graph.Inputs.Add(new ValueInfo("input", [-1, .. input]));
        Value = "input";
    }

    /// <summary>The value the next node reads.</summary>
    public string Value { get; private set; }

    /// <summary>
    /// Conv with a k×k kernel, stride <paramref name="stride"/>, padding k/2; output channel o scaled by 10^(spread·u), u uniform in [−1, 1].
    /// </summary>
    public LayerGraphs Conv(string name, int inChannels, int outChannels, int kernel, int group = 1, bool bias = true, float spread = 1, int stride = 1)
    {
        var weight = Spread(Tensor.Uniform(_rng, -1, 1, outChannels, inChannels / group, kernel, kernel), spread);
        var attributes = new Dictionary<string, AttributeValue>
        {
            ["kernel_shape"] = AttributeValue.Ints(kernel, kernel), ["group"] = AttributeValue.Int(group),
            ["pads"] = AttributeValue.Ints(kernel / 2, kernel / 2, kernel / 2, kernel / 2), ["strides"] = AttributeValue.Ints(stride, stride),
        };
        return Layer(name, OpTypes.Conv, weight, bias ? Tensor.Uniform(_rng, -0.5f, 0.5f, outChannels) : null, attributes);
    }

    /// <summary>Gemm y = x·Wᵀ + b (transB = 1, W [out, in]) or y = x·W + b (W [in, out]).</summary>
    public LayerGraphs Gemm(string name, int inFeatures, int outFeatures, bool transB = true, bool bias = true, float spread = 1)
    {
        var weight = Spread(Tensor.Uniform(_rng, -1, 1, outFeatures, inFeatures), spread);
        var attributes = new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(transB ? 1 : 0) };
        return Layer(name, OpTypes.Gemm, transB ? weight : weight.Transpose(), bias ? Tensor.Uniform(_rng, -0.5f, 0.5f, outFeatures) : null,
            attributes);
    }

    /// <summary>MatMul by a weight [in, out], no bias.</summary>
    public LayerGraphs MatMul(string name, int inFeatures, int outFeatures) =>
        Layer(name, OpTypes.MatMul, Spread(Tensor.Uniform(_rng, -1, 1, outFeatures, inFeatures), 1).Transpose(), null, []);

    /// <summary>A one-input op (Relu, Flatten, …), or PRelu/Clip/LeakyRelu with their constants.</summary>
    public LayerGraphs Op(string name, string opType, Tensor? constant = null, Tensor? constant2 = null, float? alpha = null)
    {
        var inputs = new List<string> { Value };
        if (constant is not null) { _graph.Initializers[name + ".a"] = constant; inputs.Add(name + ".a"); }
        if (constant2 is not null) { _graph.Initializers[name + ".b"] = constant2; inputs.Add(name + ".b"); }
        var attributes = alpha is float a ? new Dictionary<string, AttributeValue> { ["alpha"] = AttributeValue.Float(a) } : [];
        _graph.Nodes.Add(new Node(name, opType, inputs, [name + "_out"], attributes));
        Value = name + "_out";
        return this;
    }

    /// <summary>A one-input op with the given attributes (and a constant input, as opset 18's reduction axes).</summary>
    public LayerGraphs Op(string name, string opType, Dictionary<string, AttributeValue> attributes, Tensor? constant = null)
    {
        Op(name, opType, constant);
        var node = _graph.Nodes[^1];
        _graph.Nodes[^1] = new Node(node.Name, node.OpType, node.Inputs, node.Outputs, attributes);
        return this;
    }

    /// <summary>Adds two values (a residual join).</summary>
    public LayerGraphs Add(string name, string other)
    {
        _graph.Nodes.Add(new Node(name, OpTypes.Add, [Value, other], [name + "_out"]));
        Value = name + "_out";
        return this;
    }

    /// <summary>Makes <paramref name="value"/> the one the next node reads (to branch).</summary>
    public LayerGraphs From(string value)
    {
        Value = value;
        return this;
    }

    /// <summary>The graph with the current value as its output.</summary>
    public ModelGraph Build()
    {
        _graph.Outputs.Add(new ValueInfo(Value, []));
        _graph.Validate();
        return _graph;
    }

    private LayerGraphs Layer(string name, string opType, Tensor weight, Tensor? bias, Dictionary<string, AttributeValue> attributes)
    {
        var inputs = new List<string> { Value, name + ".weight" };
        _graph.Initializers[name + ".weight"] = weight;
        _graph.Trainable.Add(name + ".weight");
        if (bias is not null)
        {
            _graph.Initializers[name + ".bias"] = bias;
            _graph.Trainable.Add(name + ".bias");
            inputs.Add(name + ".bias");
        }
        _graph.Nodes.Add(new Node(name, opType, inputs, [name + "_out"], attributes));
        Value = name + "_out";
        return this;
    }

    // Rows (axis 0) scaled by 10^(spread·u).
    private Tensor Spread(Tensor w, float spread)
    {
        int inner = w.Size / w.Shape[0];
        for (int o = 0; o < w.Shape[0]; o++)
        {
            float factor = MathF.Pow(10, spread * (2 * _rng.NextFloat() - 1));
            for (int i = 0; i < inner; i++) w.Data[o * inner + i] *= factor;
        }
        return w;
    }
}
