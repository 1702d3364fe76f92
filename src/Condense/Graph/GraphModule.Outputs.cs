// Inference that keeps only what it returns. Run hands back every value a pass computed (quantization, pruning and
// distillation read intermediate values), so a pass over all-MiniLM-L6-v2 at batch 8 holds ~700 MB of activations until
// it returns. RunOutputs — and Forward — drop each intermediate value after its last reader has run when nothing can need
// it later: in evaluation mode with gradients off (the autograd graph would keep it alive anyway when they are on). Its
// array then goes back to the module's pool for the next op that needs one of its length (GraphModule.Recycling.cs), as
// an inference engine's liveness planning does.
using Condense.Autograd;
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    /// <summary>
    /// Runs a graph of one or more inputs, fed by input name, and returns only the graph's outputs, by name. In evaluation
    /// mode with gradients off, intermediate values are released as soon as no later node reads them.
    /// </summary>
    public Dictionary<string, Tensor> RunOutputs(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var plan = CurrentPlan();
        var slots = ReleasesIntermediates ? ExecuteReleasing(plan, Feed(inputs)) : Execute(plan, Feed(inputs));
        var outputs = new Dictionary<string, Tensor>(Graph.Outputs.Count);
        for (int i = 0; i < plan.Names.Length; i++)
            if (slots[i] is { } t && Graph.Outputs.Exists(o => o.Name == plan.Names[i])) outputs[plan.Names[i]] = t;
        return outputs;
    }

    private bool ReleasesIntermediates => !Training && !GradMode.Enabled;

    // For each step, the computed slots it is the last reader of — or, for values nothing reads, their producer: not
    // initializers, not graph inputs, not graph outputs. Step s runs at runsAt[s] (fused chains run at their last step;
    // by default every step runs at its own index); the lists are indexed by when the steps run.
    private static int[][] LastReaders(Step[] steps, int slotCount, int initializerCount, int[] inputs, IEnumerable<int> outputs,
        int[]? runsAt = null)
    {
        var last = new int[slotCount];
        Array.Fill(last, -1);
        for (int s = 0; s < steps.Length; s++)
        {
            int at = runsAt?[s] ?? s;
            foreach (int slot in steps[s].Outputs) last[slot] = Math.Max(last[slot], at);
            foreach (int slot in steps[s].Inputs)
                if (slot >= 0) last[slot] = Math.Max(last[slot], at);
        }
        var kept = new HashSet<int>(outputs.Concat(inputs));
        var released = new List<int>[steps.Length];
        for (int slot = initializerCount; slot < slotCount; slot++)
            if (last[slot] >= 0 && !kept.Contains(slot)) (released[last[slot]] ??= []).Add(slot);
        return [.. released.Select(r => r?.ToArray() ?? [])];
    }
}
