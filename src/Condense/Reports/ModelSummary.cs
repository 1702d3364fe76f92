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

    /// <summary>
    /// Summarises the parameters and buffers of <paramref name="model"/>. The parameter counts include
    /// the integer weights of a quantized graph (buffers of an integer element type), which are the
    /// model's weights even though they no longer train.
    /// </summary>
    public static ModelSummary Of(Module model)
    {
        var graph = (model as Graph.GraphModule)?.Graph;
        var tensors = new List<TensorSummary>();
        var counted = new List<TensorSummary>();
        foreach (var (name, p) in model.NamedParameters()) { var t = Summarise(name, p, trainable: true); tensors.Add(t); counted.Add(t); }
        foreach (var (name, b) in model.NamedBuffers())
        {
            var t = Summarise(name, b, trainable: false);
            tensors.Add(t);
            if (graph is not null && graph.TypeOf(name) != Graph.ElementType.Float32 && b.Rank >= 2) counted.Add(t);
        }
        return new ModelSummary(tensors, counted.Sum(t => t.Elements), counted.Sum(t => t.Nonzero));
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
