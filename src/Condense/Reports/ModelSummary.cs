// What a model holds: every parameter tensor with its shape, size and sparsity, and the totals that
// every report and the CLI's `info`/`eval` show.
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Reports;

/// <summary>One parameter or buffer tensor.</summary>
public sealed record TensorSummary(string Name, int[] Shape, bool Trainable, long Elements, long Nonzero)
{
    /// <summary>Fraction of zeros (0–1).</summary>
    public double Sparsity => Elements == 0 ? 0 : 1.0 - (double)Nonzero / Elements;
}

/// <summary>Parameter counts and sparsity of a model.</summary>
public sealed record ModelSummary(IReadOnlyList<TensorSummary> Tensors, long Parameters, long NonzeroParameters)
{
    /// <summary>Fraction of zero parameters (0–1).</summary>
    public double Sparsity => Parameters == 0 ? 0 : 1.0 - (double)NonzeroParameters / Parameters;

    /// <summary>Summarises the parameters and buffers of <paramref name="model"/>.</summary>
    public static ModelSummary Of(Module model)
    {
        var tensors = new List<TensorSummary>();
        foreach (var (name, p) in model.NamedParameters()) tensors.Add(Summarise(name, p, trainable: true));
        foreach (var (name, b) in model.NamedBuffers()) tensors.Add(Summarise(name, b, trainable: false));
        var trainable = tensors.Where(t => t.Trainable).ToList();
        return new ModelSummary(tensors, trainable.Sum(t => t.Elements), trainable.Sum(t => t.Nonzero));
    }

    private static TensorSummary Summarise(string name, Tensor t, bool trainable)
    {
        long nonZero = t.Size - CountZeros(t.Data);
        return new TensorSummary(name, t.Shape, trainable, t.Size, nonZero);
    }

    private static long CountZeros(float[] data)
    {
        long zeros = 0;
        foreach (float v in data) if (v == 0f) zeros++;
        return zeros;
    }
}
