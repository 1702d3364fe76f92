// ONNX Runtime's QDQ convention for ops that move quantized values without arithmetic (MaxPool, Flatten,
// Reshape): a DequantizeLinear before and a QuantizeLinear after with the same (s, z), so its QDQ
// transformer runs them on uint8 and fuses the Conv before them into QLinearConv. After static quantization
// a layer's input Q sits after such ops (conv → relu → MaxPool → Flatten → Q → DQ → Gemm); this pass adds
// a Q → DQ pair with that same (s, z) before each of them. It changes no value: max and reshapes commute
// with the monotone quantization, and quantizing an already quantized value with the same (s, z) is the
// identity. The integer engine and the QOperator export read through these pairs.
using Condense.Graph;

namespace Condense.Quantization;

internal static class QuantizedPooling
{
    private static readonly HashSet<string> CodePreserving = [OpTypes.MaxPool, OpTypes.Flatten, OpTypes.Reshape];

    /// <summary>Adds the Q → DQ pairs before MaxPool/Flatten/Reshape runs that end at a static layer input quantization.</summary>
    public static void Propagate(ModelGraph graph)
    {
        foreach (var q in graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear && !graph.Initializers.ContainsKey(n.Inputs[0])).ToList())
        {
            // The run of code-preserving ops feeding q, each read only by the next.
            var run = new List<Node>();
            string value = q.Inputs[0];
            while (graph.Producer(value) is { } producer && CodePreserving.Contains(producer.OpType)
                   && graph.Consumers(value).Count() == 1 && producer.Outputs.Count == 1)
            {
                run.Insert(0, producer);
                value = producer.Inputs[0];
            }
            if (!run.Any(n => n.OpType == OpTypes.MaxPool) || graph.Inputs.Any(i => i.Name == value)) continue;
            foreach (var op in run)
            {
                string quantized = op.Name + "/input/QuantizeLinear_output_0", dequantized = op.Name + "/input/DequantizeLinear_output_0";
                var qNode = new Node(op.Name + "/input/QuantizeLinear", OpTypes.QuantizeLinear, [op.Inputs[0], q.Inputs[1], q.Inputs[2]], [quantized]);
                var dqNode = new Node(op.Name + "/input/DequantizeLinear", OpTypes.DequantizeLinear, [quantized, q.Inputs[1], q.Inputs[2]], [dequantized]);
                int at = graph.Nodes.IndexOf(op);
                graph.Nodes.InsertRange(at, [qNode, dqNode]);
                op.Inputs[0] = dequantized;
            }
        }
    }
}
