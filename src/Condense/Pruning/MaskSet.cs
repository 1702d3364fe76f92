// Masks that hold: after pruning, fine-tuning must keep pruned weights at exactly zero. The mask is
// applied to the gradients before each optimizer step, to the weights after it, and to the
// optimizer's state (momentum, Adam moments), so no pruned weight drifts back (Han et al. 2015).
using Condense.Graph;
using Condense.Optim;
using Condense.Training;

namespace Condense.Pruning;

/// <summary>Pruning masks for a model's tensors (1 = keep, 0 = pruned).</summary>
public sealed class MaskSet
{
    private readonly List<(WeightTensor Target, float[] Mask)> _entries = [];
    private readonly Dictionary<Optimizer, int[]> _optimizerIndex = new(ReferenceEqualityComparer.Instance);

    /// <summary>The tensors and their masks.</summary>
    public IReadOnlyList<(WeightTensor Target, float[] Mask)> Entries => _entries;

    /// <summary>Sets (or replaces) the mask of <paramref name="target"/>.</summary>
    public void Set(WeightTensor target, float[] mask)
    {
        if (mask.Length != target.Parameter.Size)
            throw new ArgumentException($"mask of {mask.Length} elements for {target.Name} of {target.Parameter.Size}");
        int i = _entries.FindIndex(e => ReferenceEquals(e.Target.Parameter, target.Parameter));
        if (i >= 0) _entries[i] = (target, mask);
        else _entries.Add((target, mask));
        _optimizerIndex.Clear();
    }

    /// <summary>Zeroes the pruned weights.</summary>
    public void Apply()
    {
        foreach (var (target, mask) in _entries)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(target.Parameter.Data, mask, target.Parameter.Data);
            target.Parameter.MarkModified();
        }
    }

    /// <summary>Zeroes the gradients of pruned weights, so no update (and no momentum) reaches them.</summary>
    public void MaskGradients()
    {
        foreach (var (target, mask) in _entries)
            if (target.Parameter.Grad is { } g) System.Numerics.Tensors.TensorPrimitives.Multiply(g.Data, mask, g.Data);
    }

    /// <summary>Zeroes the optimizer's state (momentum, moments) at pruned positions.</summary>
    public void MaskOptimizerState(Optimizer optimizer)
    {
        if (!_optimizerIndex.TryGetValue(optimizer, out var indices))
        {
            indices = _entries.Select(e => optimizer.Params.ToList().FindIndex(p => ReferenceEquals(p, e.Target.Parameter))).ToArray();
            _optimizerIndex[optimizer] = indices;
        }
        for (int i = 0; i < _entries.Count; i++)
        {
            if (indices[i] < 0) continue;
            foreach (var state in optimizer.State(indices[i]))
                System.Numerics.Tensors.TensorPrimitives.Multiply(state, _entries[i].Mask, state);
        }
    }

    /// <summary>Training hooks that hold the masks, wrapping <paramref name="inner"/> hooks if given.</summary>
    public TrainHooks Hooks(TrainHooks? inner = null) => new()
    {
        Loss = inner?.Loss,
        BeforeStep = optimizer => { MaskGradients(); inner?.BeforeStep?.Invoke(optimizer); },
        AfterStep = (optimizer, step) =>
        {
            Apply();
            MaskOptimizerState(optimizer);
            inner?.AfterStep?.Invoke(optimizer, step);
        },
    };

    /// <summary>Fraction of zeros over all masked tensors.</summary>
    public double Sparsity
    {
        get
        {
            long total = _entries.Sum(e => (long)e.Mask.Length);
            long zeros = _entries.Sum(e => e.Mask.LongCount(v => v == 0f));
            return total == 0 ? 0 : (double)zeros / total;
        }
    }
}
