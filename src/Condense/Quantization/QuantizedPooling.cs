// ONNX Runtime's QDQ convention for ops that move quantized values without arithmetic (MaxPool, Flatten,
// Reshape): a DequantizeLinear before and a QuantizeLinear after with the same (s, z), so its QDQ
// transformer runs them on uint8 and fuses the Conv before them into QLinearConv. After static quantization
// a layer's input Q sits after such ops (conv → relu → MaxPool → Flatten → Q → DQ → Gemm); this pass adds
// a Q → DQ pair with that same (s, z) before each of them. It changes no value: max and reshapes commute
// with the monotone quantization, and quantizing an already quantized value with the same (s, z) is the
// identity — except where the run's input is already quantized for other layers (GoogLeNet's and Inception's
// pooling branches): the run and the layer after it then take that (s, z), so the value has one quantization
// (what ORT's QDQ format gives a tensor) and the pool runs on codes. First, an average-pooling branch (Inception-v3's
// Pad → AveragePool) reading a value that layers quantize reads their codes too (ShareWithAveragePools): this one does
// change values, as ORT's format does, by the input's rounding. The integer engine and the QOperator export read
// through these pairs.
using Condense.Graph;

namespace Condense.Quantization;

internal static class QuantizedPooling
{
    private static readonly HashSet<string> CodePreserving = [OpTypes.MaxPool, OpTypes.Flatten, OpTypes.Reshape];

    /// <summary>
    /// Gives average-pooling branches the codes of the value they pool where layers quantize it, then adds the Q → DQ pairs
    /// before MaxPool/Flatten/Reshape runs that end at a static layer input quantization.
    /// </summary>
    public static void Propagate(ModelGraph graph)
    {
        foreach (var q in graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear).ToList()) ShareWithAveragePools(graph, q);
        // A run whose value other QuantizeLinears also read (GoogLeNet: a pool feeds three layers and a pooling branch) can only
        // be taken once they all agree, which taking another run may bring about: repeat until nothing changes.
        bool taken;
        do
        {
            var quantizers = graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear && !graph.Initializers.ContainsKey(n.Inputs[0])).ToList();
            taken = quantizers.Count(q => TakeRun(graph, q)) > 0;
        } while (taken);
    }

    // A value that layers quantize (q and others of its (s, z)) and that an average pool (or the zero Pad before one) also
    // reads: the pool reads q's codes too (a DequantizeLinear of them), so the value has one quantization and what makes it
    // (a Concat, or a MaxPool, then quantized as a run) and the pool run on codes, as ONNX Runtime's QDQ format quantizes
    // every tensor — Inception-v3's pooling branches, which read their block's input beside its 1×1 layers.
    private static void ShareWithAveragePools(ModelGraph graph, Node q)
    {
        string value = q.Inputs[0];
        if (graph.Producer(value) is not { OpType: OpTypes.Concat or OpTypes.MaxPool } || graph.Outputs.Any(o => o.Name == value)) return;
        var readers = graph.Consumers(value).ToList();
        var pools = readers.Where(r => r.OpType is OpTypes.AveragePool or OpTypes.Pad).ToList();
        if (pools.Count == 0 || readers.Except(pools).Any(r => !SameQuantization(graph, r, q))
            || pools.Any(p => p.OpType == OpTypes.Pad && graph.Consumers(p.Outputs[0]).Any(c => c.OpType != OpTypes.AveragePool))) return;
        string dequantized = q.Name + "/pooled/DequantizeLinear_output_0";
        // q (reading the Concat alone) moves to just after it, so that the pools, wherever they are, come after their input.
        graph.Nodes.Remove(q);
        graph.Nodes.InsertRange(graph.Nodes.IndexOf(graph.Producer(value)!) + 1,
            [q, new Node(q.Name + "/pooled/DequantizeLinear", OpTypes.DequantizeLinear, [q.Outputs[0], q.Inputs[1], q.Inputs[2]], [dequantized])]);
        foreach (var pool in pools) pool.Inputs[0] = dequantized;
    }

    // Quantizes the run of code-preserving ops feeding q (each read only by the next, or by QuantizeLinears of q's (s, z))
    // when it holds a MaxPool, with q's (s, z); true when it did. Where a run's first value is already quantized by another
    // QuantizeLinear, q takes that one's (s, z), so that the value has one (a pool's output lies within its input's range).
    private static bool TakeRun(ModelGraph graph, Node q)
    {
        var run = new List<Node>();
        string value = q.Inputs[0];
        while (graph.Producer(value) is { } producer && CodePreserving.Contains(producer.OpType) && producer.Outputs.Count == 1
               && graph.Consumers(value).All(c => run.Count > 0 ? c == run[0] : c == q || SameQuantization(graph, c, q)))
        {
            run.Insert(0, producer);
            value = producer.Inputs[0];
        }
        if (!run.Any(n => n.OpType == OpTypes.MaxPool) || graph.Inputs.Any(i => i.Name == value)
            || graph.Producer(value) is { OpType: OpTypes.DequantizeLinear }) return false;
        if (graph.Consumers(value).FirstOrDefault(c => c.OpType == OpTypes.QuantizeLinear && c.Inputs[0] == value && c.Inputs.Count == q.Inputs.Count)
            is { } other)
        {
            // q and the DequantizeLinears of its codes take the other's (s, z); q's own constants go once nothing reads them.
            var replaced = q.Inputs.Skip(1).Except(other.Inputs.Skip(1)).ToList();
            foreach (var node in graph.Consumers(q.Outputs[0]).Where(n => n.OpType == OpTypes.DequantizeLinear).Append(q))
                for (int i = 1; i < q.Inputs.Count && i < node.Inputs.Count; i++) node.Inputs[i] = other.Inputs[i];
            foreach (var name in replaced.Where(name => !graph.Consumers(name).Any())) graph.Initializers.Remove(name);
        }
        foreach (var op in run)
        {
            string quantized = op.Name + "/input/QuantizeLinear_output_0", dequantized = op.Name + "/input/DequantizeLinear_output_0";
            var qNode = new Node(op.Name + "/input/QuantizeLinear", OpTypes.QuantizeLinear, [op.Inputs[0], q.Inputs[1], q.Inputs[2]], [quantized]);
            var dqNode = new Node(op.Name + "/input/DequantizeLinear", OpTypes.DequantizeLinear, [quantized, q.Inputs[1], q.Inputs[2]], [dequantized]);
            int at = graph.Nodes.IndexOf(op);
            graph.Nodes.InsertRange(at, [qNode, dqNode]);
            op.Inputs[0] = dequantized;
        }
        return true;
    }

    // Whether node is a QuantizeLinear with q's scale and zero point (the same constants, or equal ones).
    private static bool SameQuantization(ModelGraph graph, Node node, Node q)
    {
        if (node.OpType != OpTypes.QuantizeLinear || node.Inputs.Count != q.Inputs.Count) return false;
        for (int i = 1; i < q.Inputs.Count; i++)
            if (node.Inputs[i] != q.Inputs[i] && !(graph.Initializers.TryGetValue(node.Inputs[i], out var a)
                    && graph.Initializers.TryGetValue(q.Inputs[i], out var b) && a.Shape.SequenceEqual(b.Shape) && a.Data.SequenceEqual(b.Data)))
                return false;
        return true;
    }
}
