// The moments a least-squares refit toward a target output needs besides the input Hessian: C = 2/n Σ x yᵀ over the n
// calibration rows (x a layer's input as the model being cut sees it, y the output the layer should reproduce, e.g. the
// uncut model's), and the mean target 1/n Σ y. With H = 2/n Σ x xᵀ the refit is W = H⁻¹ C (the normal equations of
// min ‖XW − Y‖², both sides scaled by 2/n as InputHessian scales H). Streams like InputHessian: float GEMM per chunk of
// rows, summed in double (ProductSum).
using Condense.Tensors;

namespace Condense.Calibration;

/// <summary>Streaming accumulator of 2/n Σ x yᵀ and 1/n Σ y over paired input and target rows.</summary>
internal sealed class CrossMoments(int inputs, int outputs)
{
    private readonly ProductSum _sum = new(inputs, outputs, symmetric: false);
    private readonly double[] _targetSums = new double[outputs];
    private long _rows;

    /// <summary>Adds paired rows: <paramref name="x"/> [rows, inputs] and <paramref name="y"/> [rows, outputs].</summary>
    public void Add(Tensor x, Tensor y)
    {
        int rows = x.Shape[0];
        if (x.Rank != 2 || y.Rank != 2 || x.Shape[1] != inputs || y.Shape[1] != outputs || y.Shape[0] != rows)
            throw new CondenseException(
                $"refit rows {Shape.Format(x.Shape)} and targets {Shape.Format(y.Shape)} do not pair as [n, {inputs}] and [n, {outputs}]");
        _sum.Add(x.Data, y.Data, rows);
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outputs; o++) _targetSums[o] += y.Data[r * outputs + o];
        _rows += rows;
    }

    /// <summary>2/n Σ x yᵀ as row-major [inputs, outputs].</summary>
    public double[] Cross() => [.. _sum.Sum().Select(v => 2.0 * v / Math.Max(1, _rows))];

    /// <summary>1/n Σ y.</summary>
    public double[] TargetMean() => [.. _targetSums.Select(v => v / Math.Max(1, _rows))];
}
