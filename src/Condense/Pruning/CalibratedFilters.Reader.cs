// The layer that reads the channels CalibratedFilters removes: its weight as doubles [in, out], its bias, and the
// refitted kept rows written back in the weight's own layout.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Pruning;

public static partial class CalibratedFilters
{
    // A layer reading a group's channels: each channel is GroupSize consecutive inputs; OutFirst when its weight is
    // [out, in, …] (Conv, Gemm with transB) rather than [in, out].
    private sealed record ChannelReader(Node Node, int GroupSize, bool OutFirst)
    {
        // Inputs and outputs of its weight as it stands in the graph.
        public (int In, int Out) Width(ModelGraph graph)
        {
            var t = graph.Initializers[Node.Inputs[1]];
            int outputs = OutFirst ? t.Shape[0] : t.Shape[1];
            return (t.Size / outputs, outputs);
        }

        // The weight as [in, out] doubles (row i = input i).
        public (double[] Weight, int In, int Out) InOut(ModelGraph graph)
        {
            var t = graph.Initializers[Node.Inputs[1]];
            var (inputs, outputs) = Width(graph);
            var w = new double[inputs * outputs];
            for (int i = 0; i < inputs; i++)
                for (int o = 0; o < outputs; o++) w[i * outputs + o] = t.Data[OutFirst ? o * inputs + i : i * outputs + o];
            return (w, inputs, outputs);
        }

        // The bias as doubles (zero when a Conv or Gemm has none: AddBias makes it); null where there is no per-output bias to refit.
        public double[]? Bias(ModelGraph graph, int outputs)
        {
            if (!Biased) return null;
            AddBias(graph);
            return graph.Initializers.TryGetValue(Node.Inputs[2], out var b) && b.Size == outputs && b.Rank == 1
                ? [.. b.Data.Select(v => (double)v)] : null;
        }

        // Gives a Conv or Gemm without a bias a zero one; true if it made one.
        public bool AddBias(ModelGraph graph)
        {
            if (!Biased || Node.Inputs.Count > 2 && Node.Inputs[2].Length > 0) return false;
            string name = Node.Inputs[1] + ".refit_bias";
            while (graph.Initializers.ContainsKey(name)) name += "_";
            graph.Initializers[name] = Tensor.Zeros([Width(graph).Out]);
            if (Node.Inputs.Count > 2) Node.Inputs[2] = name;
            else Node.Inputs.Add(name);
            return true;
        }

        // A MatMul, or a Gemm that scales its bias, has no per-output bias to refit.
        private bool Biased => Node.OpType != OpTypes.MatMul && !(Node.OpType == OpTypes.Gemm && Node.Float("beta", 1f) != 1f);

        // The refitted rows of the kept channels into the cut weight, in its own layout; the refitted bias.
        public void WriteKept(ModelGraph graph, Refitted refit)
        {
            var (keep, weight, bias) = refit;
            var t = graph.Initializers[Node.Inputs[1]];
            var (_, outputs) = Width(graph);
            int inputs = keep.Length * GroupSize;
            if (t.Size != inputs * outputs) throw new InvalidOperationException($"{Node.Inputs[1]} has {t.Size} values, expected {inputs * outputs}");
            for (int r = 0; r < keep.Length; r++)
                for (int j = 0; j < GroupSize; j++)
                {
                    int from = keep[r] * GroupSize + j, to = r * GroupSize + j;
                    for (int o = 0; o < outputs; o++) t.Data[OutFirst ? o * inputs + to : to * outputs + o] = (float)weight[from * outputs + o];
                }
            t.MarkModified();
            if (bias is null) return;
            var b = graph.Initializers[Node.Inputs[2]];
            for (int o = 0; o < outputs; o++) b.Data[o] = (float)bias[o];
            b.MarkModified();
        }
    }
}
