// How each kind of module appears in a graph: a table from module type to a function that emits its
// ONNX ops (Linear → Gemm with transB = 1, ReLU → Relu, …). Keeping the table here, not on the
// layers, lets Graph depend on Nn and not the reverse. Register your own modules with Register.
using System.Collections.Concurrent;
using System.Globalization;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>Emits a module's ops into a graph; returns the name of the module's output value.</summary>
public delegate string ModuleTracer<in T>(T module, TraceContext context, string input) where T : Module;

/// <summary>The graph forms of module types.</summary>
public static class ModuleTracers
{
    private static readonly ConcurrentDictionary<Type, ModuleTracer<Module>> Table = new();

    static ModuleTracers()
    {
        Register<Linear>((m, c, x) =>
        {
            var inputs = new List<string> { x, c.Parameter("weight", m.Weight) };
            if (m.Bias is not null) inputs.Add(c.Parameter("bias", m.Bias));
            return c.Node(OpTypes.Gemm, inputs, new() { ["transB"] = AttributeValue.Int(1) });
        });
        Register<Conv2d>((m, c, x) =>
        {
            var inputs = new List<string> { x, c.Parameter("weight", m.Weight) };
            if (m.Bias is not null) inputs.Add(c.Parameter("bias", m.Bias));
            return c.Node(OpTypes.Conv, inputs, GraphOps.ConvAttributes(m.Options, m.KernelH, m.KernelW));
        });
        Register<ReLU>((_, c, x) => c.Node(OpTypes.Relu, [x]));
        Register<Sigmoid>((_, c, x) => c.Node(OpTypes.Sigmoid, [x]));
        Register<Tanh>((_, c, x) => c.Node(OpTypes.Tanh, [x]));
        Register<Flatten>((_, c, x) => c.Node(OpTypes.Flatten, [x], new() { ["axis"] = AttributeValue.Int(1) }));
        Register<Dropout>((m, c, x) => c.Node(OpTypes.Dropout, [x], new() { ["ratio"] = AttributeValue.Float(m.P) }));
        Register<MaxPool2d>((m, c, x) => c.Node(OpTypes.MaxPool, [x], PoolAttributes(m.Window, dilations: true)));
        Register<AvgPool2d>((m, c, x) =>
        {
            var attributes = PoolAttributes(m.Window, dilations: false);
            attributes["count_include_pad"] = AttributeValue.Int(m.CountIncludePad ? 1 : 0);
            return c.Node(OpTypes.AveragePool, [x], attributes);
        });
        Register<GlobalAvgPool2d>((_, c, x) => c.Node(OpTypes.GlobalAveragePool, [x]));
        // ONNX momentum weighs the old running value: onnx = 1 − PyTorch momentum.
        Register<BatchNorm>((m, c, x) => c.Node(OpTypes.BatchNormalization,
            [x, c.Parameter("weight", m.Weight), c.Parameter("bias", m.Bias), c.Buffer("running_mean", m.RunningMean), c.Buffer("running_var", m.RunningVar)],
            new() { ["epsilon"] = AttributeValue.Float(m.Eps), ["momentum"] = AttributeValue.Float(1f - m.Momentum) }));
        Register<Unflatten>((m, c, x) =>
            c.Node(OpTypes.Reshape, [x, c.Buffer("shape", new Tensor([-1f, .. m.SampleShape.Select(d => (float)d)], m.SampleShape.Length + 1))]));
        Register<ResidualBlock>((m, c, x) =>
        {
            var main = c.Node(OpTypes.Relu, [Trace(m.Bn1, c.Child("bn1"), Trace(m.Conv1, c.Child("conv1"), x))]);
            main = Trace(m.Bn2, c.Child("bn2"), Trace(m.Conv2, c.Child("conv2"), main));
            var skip = m.Shortcut is null ? x : Trace(m.Shortcut, c.Child("shortcut"), x);
            return c.Node(OpTypes.Relu, [c.Node(OpTypes.Add, [main, skip])]);
        });
        Register<Sequential>((m, c, x) =>
        {
            for (int i = 0; i < m.Layers.Count; i++)
                x = Trace(m.Layers[i], c.Child(i.ToString(CultureInfo.InvariantCulture)), x);
            return x;
        });
    }

    // ONNX pooling attributes; pads are [top, left, bottom, right]. AveragePool has dilations only from opset 19.
    private static Dictionary<string, AttributeValue> PoolAttributes(Tensors.PoolWindow w, bool dilations)
    {
        var attributes = new Dictionary<string, AttributeValue>
        {
            ["kernel_shape"] = AttributeValue.Ints(w.KernelH, w.KernelW),
            ["strides"] = AttributeValue.Ints(w.StrideH, w.StrideW),
            ["pads"] = AttributeValue.Ints(w.PadTop, w.PadLeft, w.PadBottom, w.PadRight),
            ["ceil_mode"] = AttributeValue.Int(w.CeilMode ? 1 : 0),
        };
        if (dilations) attributes["dilations"] = AttributeValue.Ints(w.DilationH, w.DilationW);
        return attributes;
    }

    /// <summary>Declares how modules of type <typeparamref name="T"/> appear in a graph.</summary>
    public static void Register<T>(ModuleTracer<T> tracer) where T : Module =>
        Table[typeof(T)] = (module, context, input) => tracer((T)module, context, input);

    /// <summary>Emits <paramref name="module"/>'s ops; an error names a module type that has no graph form.</summary>
    public static string Trace(Module module, TraceContext context, string input)
    {
        for (var type = module.GetType(); type is not null; type = type.BaseType)
            if (Table.TryGetValue(type, out var tracer)) return tracer(module, context, input);
        throw new CondenseException($"{module.GetType().Name} has no graph form: register one with ModuleTracers.Register");
    }
}
