// MobileNetV2 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks", table 2; width 1.0, 224×224)
// as torchvision's model exports to ONNX in eval mode: BatchNorm folded into each Conv's bias, ReLU6 as Clip(0, 6) with its
// bounds as inputs (opset 11+), GlobalAveragePool, Flatten, Gemm. No pretrained MobileNet is reachable here, so the weights
// are random (He-scaled, seeded): speed does not depend on them, and an int8 version calibrates on real photos all the same.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Bench;

internal static class MobileNetV2Graph
{
    // (expansion t, output channels c, repeats n, first stride s) per stage: the paper's table 2.
    private static readonly (int T, int C, int N, int S)[] Stages =
        [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

    /// <summary>The graph, input "input" [batch, 3, 224, 224] with a dynamic batch, output "logits" [batch, 1000].</summary>
    public static ModelGraph Build(ulong seed = 2018)
    {
        var builder = new Builder(seed);
        string x = builder.Conv("stem", "input", 3, 32, 3, stride: 2, groups: 1, relu6: true);
        int channels = 32, block = 0;
        foreach (var (t, c, n, s) in Stages)
            for (int i = 0; i < n; i++, block++)
            {
                string name = $"block{block}", input = x;
                int hidden = channels * t, stride = i == 0 ? s : 1;
                if (t != 1) x = builder.Conv(name + ".expand", x, channels, hidden, 1, 1, 1, relu6: true);
                x = builder.Conv(name + ".dw", x, hidden, hidden, 3, stride, groups: hidden, relu6: true);
                x = builder.Conv(name + ".project", x, hidden, c, 1, 1, 1, relu6: false);
                if (stride == 1 && channels == c) x = builder.Node(name + ".add", OpTypes.Add, [x, input]);
                channels = c;
            }
        x = builder.Conv("head", x, channels, 1280, 1, 1, 1, relu6: true);
        x = builder.Node("pool", OpTypes.GlobalAveragePool, [x]);
        x = builder.Node("flatten", OpTypes.Flatten, [x]);
        return builder.Classifier(x, 1280, 1000);
    }

    private sealed class Builder(ulong seed)
    {
        private readonly ModelGraph _graph = new() { Opset = 13 };
        private readonly Rng _rng = new(seed);

        public string Conv(string name, string input, int inChannels, int outChannels, int kernel, int stride, int groups, bool relu6)
        {
            int fanIn = inChannels / groups * kernel * kernel;
            float bound = MathF.Sqrt(6f / fanIn);
            _graph.Initializers[name + ".weight"] = Tensor.Uniform(_rng, -bound, bound, outChannels, inChannels / groups, kernel, kernel);
            _graph.Initializers[name + ".bias"] = Tensor.Uniform(_rng, -0.1f, 0.1f, outChannels);
            _graph.Trainable.UnionWith([name + ".weight", name + ".bias"]);
            int pad = kernel / 2;
            var attributes = new Dictionary<string, AttributeValue>
            {
                ["kernel_shape"] = AttributeValue.Ints(kernel, kernel), ["group"] = AttributeValue.Int(groups),
                ["pads"] = AttributeValue.Ints(pad, pad, pad, pad), ["strides"] = AttributeValue.Ints(stride, stride),
                ["dilations"] = AttributeValue.Ints(1, 1),
            };
            string output = Node(name, OpTypes.Conv, [input, name + ".weight", name + ".bias"], attributes);
            if (!relu6) return output;
            _graph.Initializers[name + ".min"] = Tensor.Scalar(0f);
            _graph.Initializers[name + ".max"] = Tensor.Scalar(6f);
            return Node(name + ".relu6", OpTypes.Clip, [output, name + ".min", name + ".max"]);
        }

        public string Node(string name, string opType, List<string> inputs, Dictionary<string, AttributeValue>? attributes = null)
        {
            _graph.Nodes.Add(new Node(name, opType, inputs, [name + "_out"], attributes ?? []));
            return name + "_out";
        }

        public ModelGraph Classifier(string input, int inFeatures, int classes)
        {
            float bound = MathF.Sqrt(1f / inFeatures);
            _graph.Initializers["classifier.weight"] = Tensor.Uniform(_rng, -bound, bound, classes, inFeatures);
            _graph.Initializers["classifier.bias"] = Tensor.Uniform(_rng, -bound, bound, classes);
            _graph.Trainable.UnionWith(["classifier.weight", "classifier.bias"]);
            var node = new Node("classifier", OpTypes.Gemm, [input, "classifier.weight", "classifier.bias"], ["logits"],
                new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) });
            _graph.Nodes.Add(node);
            _graph.Inputs.Add(new ValueInfo("input", [-1, 3, 224, 224]));
            _graph.Outputs.Add(new ValueInfo("logits", [-1, classes]));
            _graph.Validate();
            return _graph;
        }
    }
}
