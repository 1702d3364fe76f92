// Shape arithmetic folded once per input shape. Exported transformers recompute their shapes on every call
// (Shape → Gather → Unsqueeze → Concat → Reshape, Range for positions, masks from sizes); those values depend only
// on the shapes of the tensors Shape reads and on constants. Such steps are marked when the graph is planned; at run
// time a Shape step reuses its last output while its input has the same shape, and every step downstream
// of it reuses its outputs while its inputs are the same tensors, so a call with the shapes of the previous one
// runs no shape arithmetic, and a new batch size or sequence length simply recomputes it (dynamic shapes keep working).
// The dry run at load (Formats/ModelFile) fills the cache for the declared shapes.
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    // Marks the steps whose outputs depend only on shapes and non-trainable initializers.
    private void MarkShapeOnly(Step[] steps, int initializerCount)
    {
        var shapeOnly = new HashSet<int>();
        for (int i = 0; i < initializerCount; i++)
            if (!Graph.Trainable.Contains(Graph.Initializers.GetAt(i).Key)) shapeOnly.Add(i);
        for (int s = 0; s < steps.Length; s++)
        {
            var step = steps[s];
            bool readsShape = step.Node.OpType == OpTypes.Shape && step.Inputs.Length > 0 && step.Inputs[0] >= 0;
            bool fromShapes = step.Inputs.Any(i => i >= 0) && step.Inputs.All(i => i < 0 || shapeOnly.Contains(i))
                && step.Inputs.Any(i => i >= initializerCount);
            if (!readsShape && !fromShapes) continue;
            steps[s] = step with { ShapeOnly = true };
            foreach (int o in step.Outputs) shapeOnly.Add(o);
        }
    }

    // A Shape step is recomputed when its input's shape changed; any other shape-only step when one of its inputs
    // is a different tensor (or a changed initializer), as for constant steps. Only the shape is kept, not the tensor.
    private Tensor[] ShapeOutputs(int index, Step step, Tensor?[] inputs, OpContext context)
    {
        if (step.Node.OpType != OpTypes.Shape) return ConstantOutputs(index, step, inputs, context);
        var shape = inputs.Length > 0 ? inputs[0]?.Shape : null;
        if (_folded[index] is { ShapeKey: { } key } folded && shape is not null && key.AsSpan().SequenceEqual(shape)) return folded.Outputs;
        var outputs = step.Kernel(step.Node, inputs, context);
        _folded[index] = new Folded([], [], outputs, (int[]?)shape?.Clone());
        return outputs;
    }
}
