// Reverse-mode automatic differentiation on Tensor, in the style of micrograd: each op result keeps
// its parents and a closure that, given this tensor's gradient, adds into the parents' gradients.
// Backward() visits the graph in reverse topological order.
using Condense.Autograd;

namespace Condense.Tensors;

public partial class Tensor
{
    /// <summary>Whether gradients flow to this tensor. Parameters set it; op results inherit it.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>The accumulated gradient (same shape), or null before any backward pass.</summary>
    public Tensor? Grad { get; set; }

    internal Tensor[]? Parents { get; private set; }

    // A cleared gradient's buffer, kept so the next backward pass overwrites it instead of allocating
    // (a 300×784 gradient would otherwise be a fresh large-object-heap allocation every step).
    private float[]? _spareGrad;

    /// <summary>Clears the gradient (as PyTorch's set_to_none) but keeps its memory for the next backward pass.</summary>
    public void ClearGrad()
    {
        if (Grad is { } g && g.Size == Size) _spareGrad = g.Data;
        Grad = null;
    }
    internal Action<Tensor>? BackwardFn { get; private set; }

    /// <summary>True for tensors created by the user (not the result of a recorded op).</summary>
    public bool IsLeaf => BackwardFn is null;

    /// <summary>A tensor sharing this one's data, cut from the autograd graph.</summary>
    public Tensor Detach() => DataType == DataType.Float32 ? new(Data, Shape) : this;

    /// <summary>Records how to differentiate <paramref name="result"/> if any parent needs a gradient.</summary>
    internal static Tensor Record(Tensor result, Action<Tensor> backward, params Tensor[] parents)
    {
        if (!GradMode.Enabled) return result;
        foreach (var p in parents)
        {
            if (!p.RequiresGrad) continue;
            result.RequiresGrad = true;
            result.Parents = parents;
            result.BackwardFn = backward;
            break;
        }
        return result;
    }

    /// <summary>
    /// Computes gradients of this tensor with respect to every tensor it depends on that requires a
    /// gradient. The tensor must hold one element (a loss) unless <paramref name="gradient"/> is given.
    /// Gradients of intermediate results are released afterwards; leaves keep theirs (accumulated).
    /// </summary>
    public void Backward(Tensor? gradient = null)
    {
        if (!RequiresGrad) throw new InvalidOperationException("tensor does not require grad");
        if (gradient is null && Size != 1)
            throw new InvalidOperationException($"Backward() without a gradient needs a scalar, got shape {Tensors.Shape.Format(Shape)}");
        var order = TopologicalOrder();
        Grad = gradient ?? Full(1f, Shape);
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            if (t.Grad is null || t.BackwardFn is null) continue;
            t.BackwardFn(t.Grad);
            t.Grad = null;
            t.Parents = null;
            t.BackwardFn = null;
        }
    }

    private List<Tensor> TopologicalOrder()
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Node, bool Expanded)>();
        stack.Push((this, false));
        while (stack.Count > 0)
        {
            var (node, expanded) = stack.Pop();
            if (expanded) { order.Add(node); continue; }
            if (!visited.Add(node)) continue;
            stack.Push((node, true));
            if (node.Parents is null) continue;
            foreach (var p in node.Parents)
                if (p.RequiresGrad && !visited.Contains(p)) stack.Push((p, false));
        }
        return order;
    }

    /// <summary>
    /// The buffer a backward function writes this tensor's gradient into, and the beta to use:
    /// 0 when the buffer is fresh (overwrite), 1 when a gradient is already there (accumulate).
    /// </summary>
    internal (float[] Buffer, float Beta) GradTarget()
    {
        if (Grad is null)
        {
            Grad = _spareGrad is { } spare && spare.Length == Size ? new Tensor(spare, Shape) : Uninitialized(Shape);
            _spareGrad = null;
            return (Grad.Data, 0f);
        }
        return (Grad.Data, 1f);
    }

    /// <summary>Adds <paramref name="g"/> (same size) into this tensor's gradient; takes ownership if there is none.</summary>
    internal void AccumulateGrad(float[] g)
    {
        if (!RequiresGrad) return;
        if (Grad is null) { Grad = new Tensor(g, Shape); _spareGrad = null; }
        else System.Numerics.Tensors.TensorPrimitives.Add(Grad.Data, g, Grad.Data);
    }
}
