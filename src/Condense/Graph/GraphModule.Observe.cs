// Passes that show chosen intermediate values to an observer as they are computed (calibration reads layer inputs and
// residual sums, distillation the teacher's hidden states, filter allocation the layers' output shapes) and then release
// them like any inference pass (GraphModule.Outputs.cs), so the arrays go back to the module's pool
// (GraphModule.Recycling.cs): a pass holds its working set instead of every value it computed, and the next batch reuses
// this one's memory. Through Run, `condense quantize` on Swin-T peaked at 10.6–10.9 GB and spent a quarter of its
// processor time in the kernel zeroing fresh pages for each batch's values; now 2.6 GB (README: "`quantize` needs a
// fraction of the memory it did").
using Condense.Autograd;
using Condense.Tensors;

namespace Condense.Graph;

public sealed partial class GraphModule
{
    /// <summary>Called by a pass after each step with the step's output slots and the pass's values.</summary>
    private abstract class StepProbe
    {
        /// <summary>True when the pass must run every step as imported (no fused chains), so that every value exists.</summary>
        public virtual bool Unfused => false;

        public abstract void Record(int[] outputs, Tensor?[] values);
    }

    // Hands the values of the requested slots to the observer as their steps finish.
    private sealed class ValueProbe(string[] names, bool[] requested, Action<string, Tensor> observe) : StepProbe
    {
        public override bool Unfused => true;

        public override void Record(int[] outputs, Tensor?[] values)
        {
            foreach (int slot in outputs)
                if (requested[slot] && values[slot] is { } value) observe(names[slot], value);
        }
    }

    /// <summary>
    /// Runs the graph on <paramref name="inputs"/> and hands each value named in <paramref name="names"/> (graph inputs and
    /// initializers included) to <paramref name="observe"/>, once, as soon as it is computed — every value as imported, no
    /// fused chains, the bits Run gives. In evaluation without gradients the other values are released as they fall out of
    /// use and every array goes back to this module's pool: <paramref name="observe"/> must copy what it keeps.
    /// </summary>
    internal void RunObserving(IReadOnlyDictionary<string, Tensor> inputs, IReadOnlyCollection<string> names, Action<string, Tensor> observe)
    {
        if (!ReleasesIntermediates)
        {
            var all = Run(inputs);
            foreach (var name in names) if (all.TryGetValue(name, out var value)) observe(name, value);
            return;
        }
        var plan = CurrentPlan();
        var requested = new bool[plan.Names.Length];
        var wanted = names as IReadOnlySet<string> ?? names.ToHashSet();
        for (int i = 0; i < plan.Names.Length; i++) requested[i] = wanted.Contains(plan.Names[i]);
        var fed = Feed(inputs);
        for (int i = 0; i < fed.Length; i++) if (requested[plan.Inputs[i]]) observe(plan.Names[plan.Inputs[i]], fed[i]);
        foreach (var (name, value) in Graph.Initializers) if (wanted.Contains(name)) observe(name, value);
        Execute(plan, fed, release: true, new ValueProbe(plan.Names, requested, observe));
    }
}
