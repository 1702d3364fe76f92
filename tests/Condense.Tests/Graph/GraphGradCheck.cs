// Finite-difference gradient checks of graphs as they run after ONNX import: the analytic gradient of
// L = Σ y ⊙ R (R fixed, uniform in [−1, 1]) from one backward pass through GraphModule.Run, against central
// differences (L(w + h) − L(w − h)) / 2h of the same float32 forward, L summed in double.
// Tolerance: |analytic − numeric| ≤ tol·(|numeric| + 0.05·g), g the largest |numeric| of that tensor, so entries
// with almost no gradient are judged at the tensor's scale instead of against float32 rounding noise.
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Onnx;

namespace Condense.Tests.Graph;

internal static class GraphGradCheck
{
    /// <summary>One checked entry: which tensor, which element, and the two gradients.</summary>
    public sealed record Entry(string Tensor, int Index, double Analytic, double Numeric);

    public const int FloatType = 1, Int64Type = 7, BoolType = 9;

    /// <summary>A graph input of ONNX element type <paramref name="elementType"/> with fixed dimensions.</summary>
    public static ValueInfoProto Input(string name, int elementType, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } } };
    }

    /// <summary>Writes the graph as an ONNX file and imports it, as a user's model would be.</summary>
    public static GraphModule Import(IEnumerable<NodeProto> nodes, ValueInfoProto[] inputs, string output, IEnumerable<TensorProto> initializers,
        long opset)
    {
        var graph = new GraphProto { Name = "gradcheck" };
        graph.Node.AddRange(nodes);
        graph.Input.AddRange(inputs);
        graph.Output.Add(new ValueInfoProto { Name = output, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = FloatType } } });
        graph.Initializer.AddRange(initializers);
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Condense.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return Import(model);
    }

    public static GraphModule Import(ModelProto model)
    {
        string path = Onnx.OnnxTestModels.Save(model, "gradcheck");
        try { return OnnxImporter.Load(path); }
        finally { File.Delete(path); }
    }

    /// <summary>
    /// Measures the gradients of the float feeds named in <paramref name="inputs"/> and of the module's parameters
    /// (all, or those named in <paramref name="parameters"/>). <paramref name="entries"/> null checks every element;
    /// otherwise that many per tensor: the largest analytic gradients first, then seeded random elements.
    /// </summary>
    public static List<Entry> Measure(GraphModule module, Dictionary<string, Tensor> feeds, string output, string[] inputs,
        string[]? parameters = null, int? entries = null, float step = 1e-2f, ulong seed = 1)
    {
        var targets = inputs.Select(name => (Name: name, Value: feeds[name]))
            .Concat(module.NamedParameters().Where(p => parameters is null || parameters.Contains(p.Name)).Select(p => (p.Name, Value: (Tensor)p.Parameter)))
            .ToList();
        Assert.NotEmpty(targets);
        foreach (var (_, value) in targets) { value.RequiresGrad = true; value.Grad = null; }
        module.ZeroGrad();

        var y = module.Run(feeds)[output];
        var weights = Tensor.Uniform(new Rng(seed), -1f, 1f, y.Shape);
        y.Mul(weights).Sum().Backward();
        double Loss()
        {
            using var _ = GradMode.NoGrad();
            var value = module.Run(feeds)[output];
            double sum = 0;
            for (int i = 0; i < value.Size; i++) sum += (double)value.Data[i] * weights.Data[i];
            return sum;
        }

        var rng = new Rng(seed + 1);
        var measured = new List<Entry>();
        foreach (var (name, value) in targets)
        {
            var analytic = value.Grad?.Data ?? new float[value.Size]; // no gradient recorded: it must be zero
            var chosen = entries is not { } count ? Enumerable.Range(0, value.Size)
                : Enumerable.Range(0, value.Size).OrderByDescending(i => Math.Abs(analytic[i])).Take((count + 1) / 2)
                    .Concat(Enumerable.Range(0, count).Select(_ => (int)(rng.NextFloat() * value.Size) % value.Size)).Distinct();
            foreach (int i in chosen)
            {
                float saved = value.Data[i];
                value.Data[i] = saved + step; value.MarkModified();
                double plus = Loss();
                value.Data[i] = saved - step; value.MarkModified();
                double minus = Loss();
                value.Data[i] = saved; value.MarkModified();
                measured.Add(new Entry(name, i, analytic[i], (plus - minus) / (2.0 * step)));
            }
        }
        return measured;
    }

    /// <summary>Asserts every entry within the tolerance described at the top of the file; names the worst otherwise.</summary>
    public static void AssertClose(IReadOnlyList<Entry> entries, double tolerance = 1e-2)
    {
        var scale = entries.GroupBy(e => e.Tensor).ToDictionary(g => g.Key, g => g.Max(e => Math.Abs(e.Numeric)));
        // NaN counts as the worst error (MaxBy would rank it below every number).
        var worst = entries.Select(e => (Entry: e, Ratio: Math.Abs(e.Analytic - e.Numeric) / (Math.Abs(e.Numeric) + 0.05 * scale[e.Tensor] + 1e-12)))
            .Select(p => double.IsNaN(p.Ratio) ? p with { Ratio = double.PositiveInfinity } : p).MaxBy(p => p.Ratio);
        Assert.True(worst.Ratio <= tolerance,
            $"{worst.Entry.Tensor}[{worst.Entry.Index}]: analytic {worst.Entry.Analytic:G6}, numeric {worst.Entry.Numeric:G6} "
            + $"(relative error {worst.Ratio:E2} > {tolerance:E0}; {entries.Count} entries checked)");
        // A check that compares nothing but zeros would pass any op: some gradient must flow.
        Assert.Contains(entries, e => Math.Abs(e.Numeric) > 1e-3);
    }

    /// <summary>Measures and asserts in one call.</summary>
    public static void Check(GraphModule module, Dictionary<string, Tensor> feeds, string output, string[] inputs,
        string[]? parameters = null, int? entries = null, float step = 1e-2f, double tolerance = 1e-2) =>
        AssertClose(Measure(module, feeds, output, inputs, parameters, entries, step), tolerance);
}
