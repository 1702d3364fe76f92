// The optimizer base: holds the parameters and the learning rate; subclasses implement one update.
// Parameters without a gradient (unused in this step) are skipped, as in PyTorch.
using Condense.Nn;

namespace Condense.Optim;

/// <summary>Updates parameters in place from their gradients.</summary>
public abstract class Optimizer
{
    /// <summary>Creates the optimizer over <paramref name="parameters"/>.</summary>
    protected Optimizer(IEnumerable<Parameter> parameters, float learningRate)
    {
        if (!(learningRate > 0f) || !float.IsFinite(learningRate)) throw new CondenseException($"learning rate must be positive, got {learningRate}");
        Params = parameters.ToList();
        LearningRate = learningRate;
        InitialLearningRate = learningRate;
        _job = new UpdateJob(this);
    }

    /// <summary>The parameters updated.</summary>
    public IReadOnlyList<Parameter> Params { get; }

    /// <summary>The current learning rate (schedulers change it).</summary>
    public float LearningRate { get; set; }

    /// <summary>The learning rate given at construction.</summary>
    public float InitialLearningRate { get; }

    // Below this many elements an update is cheaper than waking a second core.
    private const int ParallelThreshold = 1 << 15;
    private readonly UpdateJob _job;

    /// <summary>Applies one update to every parameter that has a gradient.</summary>
    /// <remarks>Large tensors are updated in slices on all cores; the slices are disjoint, so the result is the same bits.</remarks>
    public void Step()
    {
        for (int i = 0; i < Params.Count; i++)
            if (Params[i].Grad is { } grad)
            {
                if (grad.Size != Params[i].Size)
                    throw new InvalidOperationException($"parameter {i} has {Params[i].Size} elements but its gradient {grad.Size}");
                BeginStep(i, Params[i].Size);
                int parts = Params[i].Size >= ParallelThreshold ? Math.Max(1, Kernels.Platform.Cpu.Threads) : 1;
                _job.Start(i, parts);
                Kernels.Platform.WorkerPool.Run(_job, parts);
                Params[i].MarkModified();
            }
    }

    /// <summary>Clears the gradients.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Params) p.ClearGrad();
    }

    /// <summary>Prepares parameter <paramref name="index"/>'s state (allocates it, counts the step) before its slices are updated.</summary>
    protected abstract void BeginStep(int index, int size);

    /// <summary>
    /// Updates a slice of parameter <paramref name="index"/>: <paramref name="weights"/> and <paramref name="grad"/>
    /// start at element <paramref name="offset"/> of the full tensor (and of its state).
    /// </summary>
    protected abstract void Update(int index, Span<float> weights, ReadOnlySpan<float> grad, int offset);

    // Splits one parameter's update into slices of whole cache lines for the kernel worker pool.
    private sealed class UpdateJob(Optimizer optimizer) : Kernels.Platform.IParallelJob
    {
        private int _index, _parts;

        public void Start(int index, int parts) { _index = index; _parts = parts; }

        public void Execute(int part)
        {
            var p = optimizer.Params[_index];
            int size = p.Size, chunk = (size / _parts + 15) & ~15;
            int start = Math.Min(size, part * chunk), end = part == _parts - 1 ? size : Math.Min(size, start + chunk);
            if (end > start) optimizer.Update(_index, p.Data.AsSpan(start, end - start), p.Grad!.Data.AsSpan(start, end - start), start);
        }
    }

    /// <summary>The named state buffers of parameter <paramref name="index"/> (momentum, moments), for masking and inspection.</summary>
    public abstract IEnumerable<float[]> State(int index);
}
