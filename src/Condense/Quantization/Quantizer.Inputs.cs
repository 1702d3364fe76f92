// The static input quantization of a quantized layer (Quantizer's layer pass).
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Quantization;

public static partial class Quantizer
{
    // A layer's calibrated input as Q → DQ before it; layers that read one activation with one (scale, zero point) share the
    // pair (SqueezeNet's expand convs, Inception's branches): ONNX Runtime fuses a layer into QLinearConv only when its
    // output is read by one QuantizeLinear. Returns the dequantized value the layer reads.
    private static string StaticInput(ModelGraph graph, List<Node> nodes, Dictionary<(string, float, int), string> shared, string g, string input,
        QuantParams p)
    {
        if (shared.TryGetValue((input, p.Scale, p.ZeroPoint), out var existing)) return existing;
        Add(graph, g + ".input_scale", Tensor.Scalar(p.Scale), ElementType.Float32);
        Add(graph, g + ".input_zero_point", Tensor.Scalar(p.ZeroPoint), ElementType.UInt8);
        string quantized = g + "/input/QuantizeLinear_output_0", dequantized = g + "/input/DequantizeLinear_output_0";
        nodes.Add(new Node(g + "/input/QuantizeLinear", OpTypes.QuantizeLinear, [input, g + ".input_scale", g + ".input_zero_point"], [quantized]));
        nodes.Add(new Node(g + "/input/DequantizeLinear", OpTypes.DequantizeLinear, [quantized, g + ".input_scale", g + ".input_zero_point"], [dequantized]));
        return shared[(input, p.Scale, p.ZeroPoint)] = dequantized;
    }
}
