// The equivalence both SmoothQuant and AWQ rest on: for a linear layer y = x·W (W [in, out]; or W [out, in] in the
// Gemm layout), y = (x ⊘ s)·(diag(s) W) for any positive per-input-channel s. Scaling moves difficulty between the
// activations and the weight; the graph gets a Mul of the input by 1/s before the layer (a constant per channel on
// the last axis), and the weight's input axis is multiplied by s. The float model's outputs do not change.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Quantization;

internal static class InputScaling
{
    /// <summary>
    /// Scales <paramref name="node"/>'s weight by <paramref name="s"/> along its input axis and divides its input by s: the
    /// Mul node that does it is returned, and inserted before <paramref name="node"/> unless <paramref name="insert"/> is false.
    /// </summary>
    public static Node Apply(ModelGraph graph, Node node, double[] s, int outputAxis, bool insert = true)
    {
        string w = node.Inputs[1];
        var weight = graph.Initializers[w];
        int rows = weight.Shape[0], cols = weight.Shape[1];
        var scaled = weight.Data.ToArray();
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                scaled[r * cols + c] *= (float)s[outputAxis == 0 ? c : r];
        graph.Initializers[w] = new Tensor(scaled, weight.Shape);
        string divisor = node.Name + "/input_scale_inverse", scaledInput = node.Name + "/scaled_input";
        graph.Initializers[divisor] = new Tensor([.. s.Select(v => (float)(1 / v))], s.Length);
        var mul = new Node(node.Name + "/scale_input", OpTypes.Mul, [node.Inputs[0], divisor], [scaledInput]);
        if (insert) graph.Nodes.Insert(graph.Nodes.IndexOf(node), mul);
        node.Inputs[0] = scaledInput;
        return mul;
    }

    /// <summary>A weight as [out, in] (the Linear layout), whatever its node's layout.</summary>
    public static Tensor AsLinear(Tensor weight, int outputAxis) => outputAxis == 0 ? weight : weight.Transpose();
}
