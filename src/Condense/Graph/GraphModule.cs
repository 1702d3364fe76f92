// A module that executes a ModelGraph: initializers become its parameters and buffers (under their
// graph names), and Forward runs the nodes in order. Tracing it gives back the same graph, so a model
// imported from ONNX or loaded from a checkpoint trains, prunes and exports like any other. Forward takes
// the single input of a one-input graph; Run with a dictionary feeds graphs of several inputs by name.
using Condense.Graph.Ops;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Graph;

/// <summary>An executable, trainable module built from a graph.</summary>
public sealed partial class GraphModule : Module
{
    private readonly Rng _rng;

    /// <summary>Wraps <paramref name="graph"/>; its trainable initializers become parameters (data shared).</summary>
    public GraphModule(ModelGraph graph, ulong seed = 0)
    {
        graph.Validate();
        foreach (var node in graph.Nodes)
            if (!GraphOps.IsSupported(node.OpType)) throw GraphOps.Unsupported(node);
        // No inputs is fine (a graph of constants); no outputs computes nothing.
        if (graph.Outputs.Count < 1) throw new CondenseException("a graph module needs at least one output; the graph has none");
        Graph = graph;
        _rng = new Rng(seed);
        foreach (var name in graph.Initializers.Keys.ToList())
        {
            var value = graph.Initializers[name];
            if (graph.Trainable.Contains(name))
            {
                var parameter = value as Parameter ?? new Parameter(value);
                graph.Initializers[name] = parameter;
                RegisterParameter(name, parameter);
            }
            else RegisterBuffer(name, value);
        }
    }

    /// <summary>The graph this module runs. Its initializers are this module's parameters and buffers.</summary>
    public ModelGraph Graph { get; }

    /// <summary>The declared shape of one input sample (the input shape without the batch dimension).</summary>
    public int[] SampleShape => Graph.Inputs[0].Shape[1..];

    /// <summary>The size a probe run gives a dimension the model leaves free (detectors, OCR): 224, a multiple of the usual total strides (32).</summary>
    internal const int FreeSizeProbe = 224;

    /// <summary>One sample of an input declared <paramref name="declared"/> (batch first), each free size <see cref="FreeSizeProbe"/>.</summary>
    internal static int[] ProbeSampleShape(int[] declared) => [.. declared[1..].Select(d => d > 0 ? d : FreeSizeProbe)];

    /// <summary>
    /// Zeros for each input, by name: one sample (batch 1), or as many as a fixed first dimension declares (a model of
    /// several inputs may multiply an [M, K] input by a [K, N] one); null when an input's sample shape is not fully declared.
    /// </summary>
    public Dictionary<string, Tensor>? ZeroSample() =>
        Graph.Inputs.Any(i => i.Shape.Length == 0 || i.Shape[1..].Any(d => d <= 0)) ? null
            : Graph.Inputs.ToDictionary(i => i.Name, i => Tensor.Zeros([Math.Max(i.Shape[0], 1), .. i.Shape[1..]]));

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        var plan = CurrentPlan();
        var fed = new[] { SingleInput(input) };
        return (ReleasesIntermediates ? ExecuteReleasing(plan, fed) : Execute(plan, fed))[plan.Output]!;
    }

    /// <summary>Runs the graph and returns every value it computed, by name.</summary>
    public Dictionary<string, Tensor> Run(Tensor input) => Values(CurrentPlan(), [SingleInput(input)]);

    /// <summary>Runs a graph of one or more inputs, fed by input name, and returns every value it computed, by name.</summary>
    public Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs) => Values(CurrentPlan(), Feed(inputs));

    // The inputs by name, each shaped to its declared input, in declared order.
    private Tensor[] Feed(IReadOnlyDictionary<string, Tensor> inputs)
    {
        foreach (var name in inputs.Keys)
            if (!Graph.Inputs.Exists(i => i.Name == name))
                throw new CondenseException(
                    $"'{name}' is not an input of the graph; its inputs are {string.Join(", ", Graph.Inputs.Select(i => $"'{i.Name}'"))}");
        var fed = new Tensor[Graph.Inputs.Count];
        for (int i = 0; i < fed.Length; i++)
            fed[i] = inputs.TryGetValue(Graph.Inputs[i].Name, out var t) ? ShapeToInput(i, t)
                : throw new CondenseException($"the graph input '{Graph.Inputs[i].Name}' was not given");
        return fed;
    }

    private Dictionary<string, Tensor> Values(Plan plan, Tensor[] inputs)
    {
        var slots = Execute(plan, inputs);
        var values = new Dictionary<string, Tensor>(plan.Names.Length);
        for (int i = 0; i < slots.Length; i++) if (slots[i] is { } t) values[plan.Names[i]] = t;
        return values;
    }

    // The graph compiled to slots: every value gets an index, so a forward pass does no name lookups.
    // Initializers take the first slots in graph order and are re-read on every pass (they may be replaced).
    private sealed record Plan(string[] Names, int InitializerCount, int[] Inputs, int Output, Step[] Steps, int NodeCount);

    // Constant: every input is an initializer that training does not change (e.g. the DequantizeLinear of
    // int8/int4 weights); in eval mode its outputs are computed once and reused while those inputs stay the same.
    // ShapeOnly: its outputs depend only on tensor shapes and such constants (GraphModule.Shapes.cs).
    private sealed record Step(Node Node, GraphOps.Kernel Kernel, OpDef Def, int[] Inputs, int[] Outputs, bool Constant)
    {
        public bool ShapeOnly { get; init; }
    }

    // A constant step's outputs and the inputs (tensor and version) they were computed from; for a Shape step, the shape
    // it read (one record, replaced whole, so that concurrent passes of other shapes never pair one's key with another's outputs).
    private sealed record Folded(Tensor?[] Inputs, int[] Versions, Tensor[] Outputs, int[]? ShapeKey = null);

    private Plan? _plan;
    private Folded?[] _folded = [];

    private Plan CurrentPlan()
    {
        if (_plan is { } p && p.NodeCount == Graph.Nodes.Count && p.InitializerCount == Graph.Initializers.Count) return p;
        var slots = new Dictionary<string, int>();
        var names = new List<string>();
        int Slot(string name)
        {
            if (!slots.TryGetValue(name, out int i)) { i = names.Count; slots[name] = i; names.Add(name); }
            return i;
        }
        foreach (var name in Graph.Initializers.Keys) Slot(name);
        var inputs = Graph.Inputs.Select(i => Slot(i.Name)).ToArray();
        var steps = Graph.Nodes.Select(n => new Step(n, GraphOps.Resolve(n), OpRegistry.Find(n.OpType)!,
            n.Inputs.Select(i => i.Length == 0 ? -1 : Slot(i)).ToArray(), n.Outputs.Select(Slot).ToArray(),
            n.Inputs.Any(i => i.Length > 0)
                && n.Inputs.All(i => i.Length == 0 || Graph.Initializers.ContainsKey(i) && !Graph.Trainable.Contains(i)))).ToArray();
        MarkShapeOnly(steps, Graph.Initializers.Count);
        _folded = new Folded?[steps.Length];
        return _plan = new Plan(names.ToArray(), Graph.Initializers.Count, inputs, Slot(Graph.Outputs[0].Name), steps, Graph.Nodes.Count);
    }

    // fed holds the inputs already shaped, one per graph input in declared order. With release (inference: only the
    // outputs are returned), convolution chains run as one step each (GraphModule.Inference.cs), and a value no later
    // step reads is dropped as soon as its last reader has run (outputs excepted; GraphModule.Outputs.cs), its array
    // pooled for the ops after it (GraphModule.Recycling.cs).
    /// <summary>
    /// Runs Conv → BatchNormalization → Add → Relu chains as one convolution in evaluation without gradients
    /// (GraphModule.Inference.cs). On by default; off runs every step as imported (tests compare the two).
    /// </summary>
    internal bool FusedInference { get; set; } = true;

    private Tensor?[] Execute(Plan plan, Tensor[] fed, bool release = false, StepProbe? probe = null)
    {
        var values = new Tensor?[plan.Names.Length];
        int k = 0;
        foreach (var t in Graph.Initializers.Values) values[k++] = t;
        for (int i = 0; i < fed.Length; i++) values[plan.Inputs[i]] = fed[i];
        var context = new OpContext(Training, _rng, Graph);
        var fusion = release ? CurrentFusion(plan) : null;
        bool fused = FusedInference && probe?.Unfused != true;
        // Which values are held channels-last (GraphModule.ChannelsLast.cs), when the graph runs some chains so.
        var layout = fused && fusion?.ChannelsLast is not null && RunsChannelsLast ? new bool[plan.Names.Length] : null;
        // Outside the kernels this pass runs, no arena is current, even when the pass itself runs inside another's kernel.
        using var arena = ArenaFor(release);
        var outer = TensorArena.Swap(null);
        try
        {
            for (int s = 0; s < plan.Steps.Length; s++)
            {
                if (fusion is null) { RunStep(plan, s, values, context, null); continue; }
                // Unfused, every step runs in order; the chains' release points are then late, never early.
                if (fused && fusion.Absorbed[s]) continue;
                if (!fused || fusion.RunAt[s] is not { } chain) RunStep(plan, s, values, context, arena, layout);
                else if (fusion.Blocks?[s] is { } block) RunBlockOrChains(plan, block, values, context, arena!, fusion.Released[s], layout);
                else RunChainOrSteps(plan, chain, values, context, arena!, fusion.Released[s], layout);
                probe?.Record(plan.Steps[s].Outputs, values);
                foreach (int slot in fusion.Released[s]) Release(values, slot, arena);
            }
            if (layout is not null)
                foreach (var output in Graph.Outputs)
                    if (Array.IndexOf(plan.Names, output.Name) is >= 0 and var slot) ToChannelsFirst(values, slot, arena, layout);
        }
        finally { TensorArena.Swap(outer); }
        if (probe is ChunkProbe chunks && arena is not null) chunks.Largest = arena.Largest;
        return values;
    }

    // A chain as one convolution, or else its steps one by one.
    private void RunChainOrSteps(Plan plan, ConvChain chain, Tensor?[] values, OpContext context, TensorArena arena, int[] released, bool[]? layout)
    {
        if (RunChain(plan, chain, values, arena, released, layout))
        {
            arena.Hold(values[plan.Steps[chain.Last].Outputs[0]]);
            StepFinished?.Invoke(plan.Steps[chain.Last].Node);
        }
        else foreach (int step in chain.Steps.Order()) RunStep(plan, step, values, context, arena, layout);
    }

    /// <summary>When set, called after each step with its node: a benchmark's per-op profile times the gaps between calls.</summary>
    internal Action<Node>? StepFinished { get; set; }

    private void RunStep(Plan plan, int s, Tensor?[] values, OpContext context, TensorArena? arena, bool[]? layout = null)
    {
        var step = plan.Steps[s];
        bool outputsLast = false;
        if (layout is not null && PrepareLayout(step, values, arena, layout, out outputsLast)) return;
        var inputs = new Tensor?[step.Inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = step.Inputs[i] < 0 ? null : values[step.Inputs[i]];
            if (inputs[i] is { DataType: not DataType.Float32 } typed) inputs[i] = Admit(step, i, typed);
        }
        // Constant and shape-only outputs are kept across passes: they are computed with no arena.
        Tensor[] outputs;
        try
        {
            outputs = step.ShapeOnly ? ShapeOutputs(s, step, inputs, context)
                : step.Constant && !Training ? ConstantOutputs(s, step, inputs, context)
                : InArena(arena, step, inputs, context);
        }
        catch (CondenseException e) when (e.GetType() == typeof(CondenseException) && !e.Message.Contains($"'{step.Node.Name}'"))
        {
            // An op's own check ("Conv2d bias must have shape (22), got [32]") says what, not where.
            throw new CondenseException($"node '{step.Node.Name}' ({step.Node.OpType}): {e.Message}", e);
        }
        for (int i = 0; i < step.Outputs.Length && i < outputs.Length; i++)
        {
            values[step.Outputs[i]] = outputs[i];
            arena?.Hold(outputs[i]);
            if (outputsLast) layout![step.Outputs[i]] = true;
        }
        StepFinished?.Invoke(step.Node);
    }

    // A non-float32 input reaches the op when its entry takes that type or reads the input as integer parameters;
    // ops on the float-held form get integers as float32 values; anything else is refused in one line.
    private static Tensor Admit(Step step, int index, Tensor input)
    {
        if (step.Def.Types.Contains(input.DataType) || step.Def.IntegerInputs.Contains(index)) return input;
        if (step.Def.FloatHeld && !input.DataType.IsFloat()) return new Tensor(input.Data, input.Shape);
        throw GraphOps.UnsupportedType(step.Node, index, input.DataType);
    }

    private Tensor[] ConstantOutputs(int index, Step step, Tensor?[] inputs, OpContext context)
    {
        var folded = _folded[index];
        if (folded is not null && folded.Inputs.Length == inputs.Length)
        {
            bool same = true;
            for (int i = 0; i < inputs.Length && same; i++)
                same = ReferenceEquals(folded.Inputs[i], inputs[i]) && (inputs[i] is null || inputs[i]!.Version == folded.Versions[i]);
            if (same) return folded.Outputs;
        }
        var outputs = step.Kernel(step.Node, inputs, context);
        _folded[index] = new Folded(inputs, inputs.Select(t => t?.Version ?? 0).ToArray(), outputs);
        return outputs;
    }

    private Tensor SingleInput(Tensor input) => Graph.Inputs.Count == 1 ? ShapeToInput(0, input)
        : throw new CondenseException($"the model has {Graph.Inputs.Count} inputs ({string.Join(", ", Graph.Inputs.Select(i => i.Name))}) "
            + "but was fed one tensor: this works on single-input models only (Run with a dictionary feeds several by name)");

    // Data sets hand out samples in their shape (N, 1, 28, 28) and features as flat rows; a graph that declares
    // (N, 1, 28, 28) gets flat rows in that shape, a graph that declares flat rows gets images flattened, and one that
    // declares (N, 28, 28) gets MNIST's (N, 1, 28, 28): a sample of the declared size takes the declared shape. A
    // sample of another size, or of free sizes the input cannot name, is refused.
    // An input of the declared rank is never reshaped: (N, 1, 5, 3) for a declared (N, 1, 3, 5) is a
    // different layout, and reinterpreting it would silently scramble the data.
    private Tensor ShapeToInput(int index, Tensor input)
    {
        input = TypeToInput(index, input);
        var declared = Graph.Inputs[index].Shape;
        if (declared.Length == input.Rank)
        {
            for (int i = 1; i < declared.Length; i++)
                if (declared[i] >= 0 && declared[i] != input.Shape[i]) throw Mismatch(index, input, declared);
            return input;
        }
        if (input.Rank == 0) throw Mismatch(index, input, declared);
        int sample = 1;
        foreach (int d in declared.AsSpan(1)) sample *= d;
        int rows = input.Shape[0], row = input.Size / Math.Max(rows, 1);
        // Flat rows (features of unknown sample shape), or a sample flattened for a model that takes it flat.
        if (declared.Length == 2 && (declared[1] < 0 || declared[1] == row)) return input.Reshape(rows, row);
        if (declared.AsSpan(1).IndexOfAnyInRange(int.MinValue, -1) < 0 && row == sample)
            return input.Reshape([rows, .. declared[1..]]);
        throw Mismatch(index, input, declared);
    }

    // An input of the declared element type passes; float32 data (what data loaders give) is converted to a
    // declared integer type when every value is an exact integer of it, and to a declared float type by rounding.
    private Tensor TypeToInput(int index, Tensor input)
    {
        var info = Graph.Inputs[index];
        if (DataTypes.FromOnnxName(info.DataType) is not { } declared || declared == input.DataType) return input;
        if (input.DataType == DataType.Float32)
        {
            var converted = TypedOps.Cast(input, declared);
            if (declared.IsFloat() || Enumerable.Range(0, input.Size).All(i => converted.GetDouble(i) == input.Data[i])) return converted;
            throw new CondenseException($"input '{info.Name}' is {declared.OnnxName()}, but the values given are not all {declared.OnnxName()} integers");
        }
        throw new CondenseException($"input '{info.Name}' is {declared.OnnxName()}, but a {input.DataType.OnnxName()} tensor was given");
    }

    private CondenseException Mismatch(int index, Tensor input, int[] declared) =>
        new($"input of shape {Shape.Format(input.Shape)} does not fit the model's input '{Graph.Inputs[index].Name}' of shape {Shape.Format(declared)}");
}
