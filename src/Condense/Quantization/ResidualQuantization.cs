// Static QDQ around residual Adds, as ONNX Runtime's own quantizer writes them (QLinearAdd). ORT's QDQ transformer turns
// DQ → Conv → Q into one QLinearConv only when the conv's output is quantized; after the layer pass a conv that feeds a
// residual Add (the second conv of every ResNet block, and each downsample) has no Q after it, so ORT runs it in float
// between a DequantizeLinear and nothing. Quantizing both inputs of such an Add (calibrated, uint8, per tensor) gives
// those convs their Q and lets ORT run the Add on codes too. An input already quantized for a layer (the block's input,
// read by its first conv and by the skip path) reuses that layer's DequantizeLinear, so one tensor has one (s, z).
// A Concat of layer outputs is treated the same way (ORT's QLinearConcat): SqueezeNet's Fire modules, Inception's and
// GoogLeNet's branches, DenseNet's growing stacks — without it their int8 files ran slower in ORT than the float ones
// (SqueezeNet 1.1: two thirds of the convs left in float).
using Condense.Autograd;
using Condense.Graph;
using Condense.Quantization.Observers;
using Condense.Tensors;

namespace Condense.Quantization;

internal static class ResidualQuantization
{
    /// <summary>
    /// Quantizes the inputs of every Add of two activations, and of every Concat of activations, that a quantized layer
    /// (Conv/Gemm/MatMul behind a dequantized weight) feeds, directly or through a Relu, poolings and Pads; ranges are observed
    /// on the calibration batches run through <paramref name="graph"/> as it stands (the float simulation of the layers already
    /// quantized). Returns the Adds and Concats done.
    /// </summary>
    public static int Apply(ModelGraph graph, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration, QuantizeOptions options)
    {
        var joins = graph.Nodes.Where(n => (n.OpType == OpTypes.Add && n.Inputs.Count == 2 || n.OpType == OpTypes.Concat)
            && n.Inputs.All(i => !graph.Initializers.ContainsKey(i)) && n.Inputs.Any(i => FromQuantizedLayer(graph, i))).ToList();
        if (joins.Count == 0) return 0;
        // Each input of an Add or Concat: an existing DequantizeLinear of it placed before the node (reused), or a new Q/DQ to calibrate.
        var reuse = new Dictionary<(Node Join, string Value), string>();
        var fresh = new HashSet<string>();
        foreach (var join in joins)
            foreach (var value in join.Inputs.Distinct())
            {
                if (graph.Producer(value) is { OpType: OpTypes.DequantizeLinear }) continue;
                if (ExistingDequantized(graph, value, join) is { } dequantized) reuse[(join, value)] = dequantized;
                else fresh.Add(value);
            }
        var ranges = Observe(graph, calibration, fresh, options);
        var made = new Dictionary<string, string>();
        foreach (var join in joins)
        {
            for (int k = 0; k < join.Inputs.Count; k++)
            {
                string value = join.Inputs[k];
                if (reuse.TryGetValue((join, value), out var dequantized)) { join.Inputs[k] = dequantized; continue; }
                if (!fresh.Contains(value)) continue;
                if (!made.TryGetValue(value, out dequantized))
                {
                    dequantized = Insert(graph, value, ranges[value], at: graph.Nodes.IndexOf(join));
                    made[value] = dequantized;
                }
                join.Inputs[k] = dequantized;
            }
        }
        return joins.Count;
    }

    private static bool FromQuantizedLayer(ModelGraph graph, string value)
    {
        var producer = graph.Producer(value);
        // Through a Relu, poolings and the Pads PyTorch writes before them: DenseNet's transitions (conv → average pool) feed the
        // next block's Concats.
        while (producer?.OpType is OpTypes.Relu or OpTypes.MaxPool or OpTypes.AveragePool or OpTypes.Pad) producer = graph.Producer(producer.Inputs[0]);
        return producer is { OpType: OpTypes.Conv or OpTypes.Gemm or OpTypes.MatMul } layer && layer.Inputs.Count > 1
            && graph.Producer(layer.Inputs[1]) is { OpType: OpTypes.DequantizeLinear } weight && graph.Initializers.ContainsKey(weight.Inputs[0]);
    }

    // The output of a Q → DQ of value that comes before the Add or Concat in node order (a layer's static input quantization).
    private static string? ExistingDequantized(ModelGraph graph, string value, Node join)
    {
        int at = graph.Nodes.IndexOf(join);
        foreach (var q in graph.Consumers(value).Where(n => n.OpType == OpTypes.QuantizeLinear && graph.Nodes.IndexOf(n) < at))
            foreach (var dq in graph.Consumers(q.Outputs[0]).Where(n => n.OpType == OpTypes.DequantizeLinear && graph.Nodes.IndexOf(n) < at))
                return dq.Outputs[0];
        return null;
    }

    private static Dictionary<string, QuantParams> Observe(ModelGraph graph, Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>> calibration,
        IReadOnlyCollection<string> values, QuantizeOptions options)
    {
        var observers = values.ToDictionary(v => v, _ => Observer.Create(options.Calibration, options.Observer));
        if (observers.Count == 0) return [];
        var model = new GraphModule(graph);
        model.Eval();
        using (GradMode.NoGrad())
            foreach (var feed in calibration())
                model.RunObserving(feed, observers.Keys, (name, value) => observers[name].Observe(value.Data));
        return observers.ToDictionary(o => o.Key, o => o.Value.Compute(QuantRange.UInt8, symmetric: false));
    }

    private static string Insert(ModelGraph graph, string value, QuantParams p, int at)
    {
        string prefix = value + "/residual", scale = prefix + ".scale", zero = prefix + ".zero_point";
        graph.Initializers[scale] = Tensor.Scalar(p.Scale);
        graph.Initializers[zero] = Tensor.Scalar(p.ZeroPoint);
        graph.ElementTypes[zero] = ElementType.UInt8;
        string quantized = prefix + "/QuantizeLinear_output_0", dequantized = prefix + "/DequantizeLinear_output_0";
        graph.Nodes.InsertRange(at, [
            new Node(prefix + "/QuantizeLinear", OpTypes.QuantizeLinear, [value, scale, zero], [quantized]),
            new Node(prefix + "/DequantizeLinear", OpTypes.DequantizeLinear, [quantized, scale, zero], [dequantized]),
        ]);
        return dequantized;
    }
}
