// Which graphs run in batch chunks (GraphModule.BatchChunks.cs): those whose samples never meet. A value is a sample
// value when it is a graph input or computed from one (shape-only and constant steps are not: they are recomputed or
// reused for each chunk's shapes). Every step that reads a sample value must be an op that works sample by sample
// along dimension 0, with the attributes that keep it so, and the shapes of one whole pass must agree: its sample values
// lead with the batch, and a constant operand of an elementwise op does not span it (lower rank, or a leading 1). A step
// a fused chain absorbed (its output never made) is one of the chain's ops, Conv, BatchNormalization, Add, Relu or Clip,
// whose chain output and residual are checked as any value. Anything else, and any op not named here, keeps the batch whole.
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    private static class SeparableOps
    {
        // Ops whose first input is the sample value and whose other inputs are parameters (weights, bounds, scales).
        private static readonly HashSet<string> PerSample =
        [
            OpTypes.Relu, OpTypes.Clip, OpTypes.LeakyRelu, OpTypes.Sigmoid, OpTypes.HardSigmoid, OpTypes.HardSwish, OpTypes.Swish, OpTypes.Tanh,
            OpTypes.Identity, OpTypes.Dropout, OpTypes.Elu, OpTypes.Selu, OpTypes.Softplus, OpTypes.Softsign, OpTypes.Erf, OpTypes.Gelu,
            OpTypes.Exp, OpTypes.Log, OpTypes.Sqrt, OpTypes.Neg, OpTypes.Abs, OpTypes.Reciprocal, OpTypes.Floor, OpTypes.Ceil,
            OpTypes.Round, OpTypes.Sign, OpTypes.Cast, OpTypes.Mish, OpTypes.Conv, OpTypes.ConvTranspose, OpTypes.BatchNormalization,
            OpTypes.InstanceNormalization, OpTypes.LRN, OpTypes.MaxPool, OpTypes.AveragePool, OpTypes.GlobalAveragePool,
            OpTypes.GlobalMaxPool, OpTypes.Reshape, OpTypes.MatMul,
        ];

        // Elementwise ops with broadcasting, and the engine's fused ops that work within a sample (attention per sample and
        // head, layer norm over the last axis): every operand is a sample value or a constant that does not span the batch.
        private static readonly HashSet<string> Broadcasting =
        [
            OpTypes.Add, OpTypes.Sub, OpTypes.Mul, OpTypes.Div, OpTypes.Max, OpTypes.Min, OpTypes.Pow, OpTypes.PRelu, OpTypes.Sum,
            OpTypes.Mean, OpTypes.FusedAttention, OpTypes.SkipLayerNormalization,
        ];

        // Ops a fused chain absorbs (GraphModule.Inference.cs), whose outputs a pass never makes.
        private static readonly HashSet<string> ChainOps = [OpTypes.Conv, OpTypes.BatchNormalization, OpTypes.Add, OpTypes.Relu, OpTypes.Clip];

        /// <summary>True when every step reading a sample value keeps the samples apart, as the pass's shapes show.</summary>
        public static bool Hold(Plan plan, int[]?[] shapes, int batch, Func<int, Tensor?> initializer)
        {
            var sample = new bool[plan.Names.Length];
            foreach (int slot in plan.Inputs) sample[slot] = true;
            foreach (var step in plan.Steps)
            {
                if (step.ShapeOnly || step.Constant || !step.Inputs.Any(i => i >= 0 && sample[i])) continue;
                foreach (int slot in step.Outputs) sample[slot] = true;
                var output = step.Outputs.Length > 0 ? shapes[step.Outputs[0]] : null;
                if (output is null && ChainOps.Contains(step.Node.OpType)) continue;
                if (output is null || output.Length == 0 || output[0] != batch) return false;
                if (!Keeps(step, shapes, sample, batch, output.Length)) return false;
                // A constant target shape must not fix the batch ([64, -1] matches a probe of 64 samples, not a chunk).
                if (step.Node.OpType == OpTypes.Reshape && step.Inputs is [_, >= 0 and var shapeSlot, ..] && initializer(shapeSlot) is { Size: > 0 } target
                    && (target.DataType == DataType.Int64 ? target.Int64Data[0] : (long)target.Data[0]) is not (0 or -1)) return false;
            }
            return true;
        }

        private static bool Keeps(Step step, int[]?[] shapes, bool[] sample, int batch, int rank)
        {
            var node = step.Node;
            int[]? Shape(int i) => i < step.Inputs.Length && step.Inputs[i] >= 0 ? shapes[step.Inputs[i]] : null;
            bool Sample(int i) => i < step.Inputs.Length && step.Inputs[i] >= 0 && sample[step.Inputs[i]];
            // A chain's step reads values the chain never made (absorbed): those are the chain's and lead with the batch.
            bool Absorbed(int i) => Shape(i) is null && Sample(i) && ChainOps.Contains(node.OpType);
            bool LeadsWithBatch(int i) => Shape(i) is [var first, ..] ? first == batch : Absorbed(i);
            // A later axis of a tensor of this rank (negative axes count from the end).
            bool Later(long axis) => (axis < 0 ? axis + rank : axis) is >= 1 and var a && a < rank;
            // A second output (MaxPool's indices) may count across the batch; Dropout's mask does not.
            if (step.Outputs.Length > 1 && node.OpType != OpTypes.Dropout) return false;
            bool OnlyFirstIsSample() => Sample(0) && LeadsWithBatch(0) && Enumerable.Range(1, step.Inputs.Length - 1).All(i => !Sample(i));
            switch (node.OpType)
            {
                case OpTypes.Flatten:
                    return OnlyFirstIsSample() && Shape(0) is { } x && node.Int("axis", 1) is var f && (f < 0 ? f + x.Length : f) >= 1;
                case OpTypes.Softmax or OpTypes.LogSoftmax or OpTypes.Hardmax or OpTypes.LayerNormalization:
                    return OnlyFirstIsSample() && rank >= 2 && (!node.Attributes.ContainsKey("axis") || Later(node.Int("axis", -1)));
                case OpTypes.Gemm or OpTypes.FusedGemm:
                    return node.Int("transA", 0) == 0 && OnlyFirstIsSample() && Fits(Shape(2), rank);
                case OpTypes.MatMul when Sample(1):
                    return Sample(0) && LeadsWithBatch(0) && LeadsWithBatch(1) && Shape(0)!.Length >= 3 && Shape(1)!.Length >= 3;
                case OpTypes.Transpose:
                    return OnlyFirstIsSample() && node.Attributes.TryGetValue("perm", out var perm) && perm.IntsValue is [0, ..];
                case OpTypes.Concat:
                    return Later(node.Int("axis", 0)) && Enumerable.Range(0, step.Inputs.Length).All(i => Sample(i) && LeadsWithBatch(i));
            }
            if (PerSample.Contains(node.OpType)) return OnlyFirstIsSample();
            if (!Broadcasting.Contains(node.OpType)) return false;
            for (int i = 0; i < step.Inputs.Length; i++)
                if (step.Inputs[i] >= 0 && (Sample(i) ? !LeadsWithBatch(i) || !Absorbed(i) && Shape(i)!.Length != rank
                    : Shape(i) is not { } c || !Fits(c, rank)))
                    return false;
            return true;
        }

        // A constant operand broadcast against values of this rank: absent, of lower rank, or leading with a 1.
        private static bool Fits(int[]? shape, int rank) => shape is null || shape.Length < rank || shape[0] == 1;
    }
}
