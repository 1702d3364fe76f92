// Builds static-quantized QDQ graphs by hand, exactly as docs/quantized-graph.md specifies, from a traced float
// graph: per-channel symmetric int8 weights, uint8 activation parameters from a MinMaxObserver over a
// calibration batch. The integer engine's tests use it as an oracle independent of the library's converter
// (Quantization/Quantizer), and to build graphs the converter does not (hand-set zero points, mixed modes).
using Condense.Autograd;
using Condense.Graph;
using Condense.Quantization;
using Condense.Quantization.Observers;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

/// <summary>How one Gemm appears in a hand-built quantized graph.</summary>
internal enum QdqLayerMode
{
    /// <summary>Q → DQ on the input, DQ on the int8 weight.</summary>
    Static,
    /// <summary>DynamicQuantizeLinear → DQ on the input, DQ on the int8 weight.</summary>
    Dynamic,
    /// <summary>No Q/DQ at all.</summary>
    Float,
}

internal static class QdqGraphs
{
    /// <summary>
    /// The QDQ form of <paramref name="floatGraph"/> (left unchanged). <paramref name="mode"/> picks each Gemm's
    /// form by index (static by default); <paramref name="activation"/> may replace the observed input parameters.
    /// </summary>
    public static ModelGraph Quantize(ModelGraph floatGraph, Tensor calibration, QuantRange weightRange,
        Func<int, QdqLayerMode>? mode = null, Func<int, QuantParams, QuantParams>? activation = null)
    {
        var simulation = new GraphModule(floatGraph.Clone());
        simulation.Eval();
        Dictionary<string, Tensor> values;
        using (GradMode.NoGrad()) values = simulation.Run(calibration);

        var g = floatGraph.Clone();
        var gemms = g.Nodes.Where(n => n.OpType == "Gemm").ToList();
        for (int l = 0; l < gemms.Count; l++)
        {
            var gemm = gemms[l];
            var layerMode = mode?.Invoke(l) ?? QdqLayerMode.Static;
            if (layerMode == QdqLayerMode.Float) continue;
            string name = gemm.Name, a = gemm.Inputs[0], w = gemm.Inputs[1];
            var inserted = new List<Node>();
            if (layerMode == QdqLayerMode.Static)
            {
                var observer = new MinMaxObserver();
                observer.Observe(values[a].Data);
                var p = observer.Compute(QuantRange.UInt8, symmetric: false);
                if (activation is not null) p = activation(l, p);
                string s = name + ".input_scale", z = name + ".input_zero_point";
                g.Initializers.Add(s, Tensor.Scalar(p.Scale));
                g.Initializers.Add(z, Tensor.Scalar(p.ZeroPoint));
                g.ElementTypes[z] = ElementType.UInt8;
                string q = name + "/input/QuantizeLinear", dq = name + "/input/DequantizeLinear";
                inserted.Add(new Node(q, "QuantizeLinear", [a, s, z], [q + "_output_0"]));
                inserted.Add(new Node(dq, "DequantizeLinear", [q + "_output_0", s, z], [dq + "_output_0"]));
                gemm.Inputs[0] = dq + "_output_0";
            }
            else
            {
                string dyn = name + "/input/DynamicQuantizeLinear", dq = name + "/input/DequantizeLinear";
                inserted.Add(new Node(dyn, "DynamicQuantizeLinear", [a], [dyn + "_output_0", dyn + "_output_1", dyn + "_output_2"]));
                inserted.Add(new Node(dq, "DequantizeLinear", [dyn + "_output_0", dyn + "_output_1", dyn + "_output_2"], [dq + "_output_0"]));
                gemm.Inputs[0] = dq + "_output_0";
            }

            var weight = g.Initializers[w];
            int outFeatures = weight.Shape[0];
            var perChannel = AffineQuantizer.PerChannel(weight, 0, weightRange, symmetric: true);
            var quantized = AffineQuantizer.QuantizeToSByte(weight, perChannel, 0);
            string wq = w + ".quantized", ws = w + ".scale", wz = w + ".zero_point", wdq = name + "/weight/DequantizeLinear";
            g.Initializers.Add(wq, new Tensor(quantized.Select(v => (float)v).ToArray(), weight.Shape));
            g.Initializers.Add(ws, new Tensor(perChannel.Select(p => p.Scale).ToArray(), outFeatures));
            g.Initializers.Add(wz, Tensor.Zeros(outFeatures));
            g.ElementTypes[wq] = ElementType.Int8;
            g.ElementTypes[wz] = ElementType.Int8;
            inserted.Add(new Node(wdq, "DequantizeLinear", [wq, ws, wz], [wdq + "_output_0"],
                new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(0) }));
            gemm.Inputs[1] = wdq + "_output_0";
            g.Initializers.Remove(w);
            g.Trainable.Remove(w);
            g.Nodes.InsertRange(g.Nodes.IndexOf(gemm), inserted);
        }
        g.Validate();
        return g;
    }
}
