// Post-training quantization as a graph pass (docs/quantized-graph.md): each chosen Linear (Gemm or a MatMul by a
// float initializer, as exporters write nn.Linear) or Conv layer gets its weight replaced by int8 (per-channel
// symmetric along the output axis: rows of a Gemm weight, columns of a MatMul one) behind a DequantizeLinear, and — in static mode —
// its input wrapped in QuantizeLinear/DequantizeLinear with a range calibrated on sample data by an
// observer (streamed batch by batch), or — in dynamic mode — in DynamicQuantizeLinear. The result is
// an ordinary graph: run in float it is the exact simulation of the quantization; the integer engine
// compiles it; ONNX export writes it as QDQ.
using Condense.Calibration;
using Condense.Autograd;
using Condense.Data;
using Condense.Distributed;
using Condense.Graph;
using Condense.Quantization.Observers;
using Condense.Tensors;

namespace Condense.Quantization;

/// <summary>One quantized layer: its weight's bits and scale range, and its input's range if static.</summary>
public sealed record QuantizedLayer(string Node, string Weight, int Bits, float MinScale, float MaxScale, float? InputScale, int? InputZeroPoint)
{
    /// <summary>Cross-layer equalization: the next layer whose input channels this layer's output channels were equalized with.</summary>
    public string? EqualizedWith { get; init; }
    /// <summary>Cross-layer equalization: why this layer's output channels were not equalized with a next layer.</summary>
    public string? EqualizationSkipped { get; init; }
    /// <summary>Bias correction: the largest shift subtracted from one output channel's bias.</summary>
    public float? BiasCorrection { get; init; }
}

/// <summary>Builds quantized graphs.</summary>
public static partial class Quantizer
{
    /// <summary>
    /// A quantized copy of <paramref name="model"/> (the input is not changed). Static mode calibrates on
    /// the first <see cref="QuantizeOptions.CalibrationSamples"/> samples of <paramref name="calibration"/>.
    /// </summary>
    public static (GraphModule Model, IReadOnlyList<QuantizedLayer> Layers) Quantize(GraphModule model, Dataset? calibration, QuantizeOptions options)
    {
        string input = model.Graph.Inputs.Count == 1 ? model.Graph.Inputs[0].Name : "";
        return Quantize(model, options, calibration is null ? null : () => DatasetFeeds(calibration, input, options.CalibrationSamples));
    }

    /// <summary>
    /// A quantized copy of <paramref name="model"/> calibrated (in static mode) on the batches <paramref name="calibration"/>
    /// yields, each the model's inputs by name (token ids and masks for a text model).
    /// </summary>
    public static (GraphModule Model, IReadOnlyList<QuantizedLayer> Layers) Quantize(GraphModule model, QuantizeOptions options,
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? calibration)
    {
        options.Validate();
        QuantizedWeights.ThrowIfQuantized(model.Graph);
        // Each layer's weight is replaced by its own codes and scales (and its bias corrected): shared tensors are copied first.
        model = SharedInitializers.OwnLayerParameters(model);
        // Batch norm first: the weight that gets quantized is the one inference multiplies by (BatchNormFolding).
        if (model.Graph.Nodes.Any(n => n.OpType == OpTypes.BatchNormalization)) model = BatchNormFolding.Fold(model).Model;
        if (calibration is null && (options.AdaRound || options.BiasCorrection))
            throw new CondenseException($"{(options.AdaRound ? "AdaRound" : "bias correction")} needs calibration data");
        if (!options.Equalize) return QuantizeFolded(model, options, calibration);
        // Equalized before calibration, so the observers see the equalized activations.
        var (equalized, report) = CrossLayerEqualization.Apply(model.Graph);
        var (quantized, layers) = QuantizeFolded(new GraphModule(equalized), options, calibration);
        return (quantized, [.. layers.Select(l => l with
        {
            EqualizedWith = report.Equalized.FirstOrDefault(p => p.First == l.Node)?.Second,
            EqualizationSkipped = report.Skipped.FirstOrDefault(p => p.Layer == l.Node)?.Reason,
        })]);
    }

    // Quantize once batch norm is folded (and the float model equalized).
    private static (GraphModule Model, IReadOnlyList<QuantizedLayer> Layers) QuantizeFolded(GraphModule model, QuantizeOptions options,
        Func<IEnumerable<IReadOnlyDictionary<string, Tensor>>>? calibration)
    {
        var source = model.Graph;
        var exclude = options.Exclude.Select(WeightLayers.Pattern).ToList();
        var targets = WeightLayers.Find(model)
            .Where(t => options.Layers && !t.IsBias && IsQuantizable(t, source))
            .Where(t => !exclude.Any(r => r.IsMatch(t.Name)))
            .ToDictionary(t => t.Node.Name);
        Dictionary<string, LayerInput>? inputs = null;
        bool smooth = options.SmoothQuantAlpha is not null, search = options.Rounding != WeightRounding.Rtn;
        if (smooth || search)
        {
            var linear = targets.Values.Where(t => t.Node.OpType != OpTypes.Conv).Select(t => t.Node).ToList();
            var feeds = (calibration ?? throw new CondenseException($"{(smooth ? "SmoothQuant" : options.Rounding.ToString())} needs calibration data"))();
            inputs = LayerInputs.Gather(model, feeds, linear, hessian: options.Rounding == WeightRounding.Gptq,
                sampleRows: options.Rounding == WeightRounding.Awq ? 512 : 0);
        }
        if (smooth)
        {
            // The smoothed float model gives the same outputs; static calibration then sees its flatter activations.
            var smoothed = source.Clone();
            foreach (var t in targets.Values.Where(t => inputs!.ContainsKey(t.Node.Name)))
            {
                var s = SmoothQuant.Scales(inputs![t.Node.Name].MaxAbs, SmoothQuant.WeightMax(InputScaling.AsLinear(t.Parameter, t.OutputAxis)),
                    options.SmoothQuantAlpha!.Value);
                InputScaling.Apply(smoothed, smoothed.Nodes.First(n => n.Name == t.Node.Name), s, t.OutputAxis);
            }
            return QuantizeFolded(new GraphModule(smoothed), options with { SmoothQuantAlpha = null }, calibration);
        }
        var embeddings = options.Embeddings ? Embeddings(source).Where(g => !exclude.Any(r => r.IsMatch(g.Inputs[0]))).ToList() : [];
        if (targets.Count == 0 && embeddings.Count == 0)
            throw new CondenseException("no Linear (Gemm or MatMul by a weight) or Conv layer to quantize: all were excluded or the model has none");
        // One pass of the float model: static mode's observers, AdaRound's input samples, bias correction's input sums.
        var samples = options.AdaRound || options.BiasCorrection ? new LayerSamples(targets.Values.Select(t => t.Node), source, options) : null;
        var inputParams = options.Mode == QuantizationMode.Static || samples is not null
            ? Calibrate(model, (calibration ?? throw new CondenseException("static quantization needs calibration data"))(),
                targets.Values.Select(t => t.Node).ToList(), options, samples)
            : null;

        var graph = source.Clone();
        var nodes = new List<Node>();
        var sharedInputs = new Dictionary<(string Value, float Scale, int ZeroPoint), string>();
        var layers = new List<QuantizedLayer>();
        var weightRange = QuantRange.Restricted(options.WeightBits);
        foreach (var node in graph.Nodes)
        {
            if (!targets.TryGetValue(node.Name, out var target)) { nodes.Add(node); continue; }
            string g = node.Name, w = node.Inputs[1];
            var weight = graph.Initializers[w];
            int outputAxis = target.OutputAxis;

            if (options.BlockSize is int blockSize)
            {
                layers.Add(QuantizeBlockwise(graph, nodes, node, outputAxis, blockSize, weightRange, options.WeightBits,
                    options.Rounding, inputs?.GetValueOrDefault(node.Name)));
                nodes.Add(node);
                continue;
            }

            // Weight: symmetric int8 (or fewer bits), per output row or per tensor, behind DequantizeLinear.
            var perChannel = options.PerChannel
                ? AffineQuantizer.PerChannel(weight, outputAxis, weightRange, symmetric: true)
                : [AffineQuantizer.PerTensor(weight, weightRange, symmetric: true)];
            var q = samples?.AdaRoundInputs(node) is { } x
                ? AdaRoundCodes(node, weight, outputAxis, perChannel, weightRange, x, options.AdaRoundOptions)
                : options.PerChannel
                    ? AffineQuantizer.QuantizeToSByte(weight, perChannel, outputAxis)
                    : AffineQuantizer.QuantizeToSByte(weight, perChannel[0]);
            int[] scaleShape = options.PerChannel ? [perChannel.Length] : [];
            Add(graph, w + ".scale", new Tensor(perChannel.Select(p => p.Scale).ToArray(), scaleShape), ElementType.Float32);
            Add(graph, w + ".zero_point", new Tensor(new float[perChannel.Length], scaleShape), ElementType.Int8);
            var axis = new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(outputAxis) };
            string dequantizedWeight = g + "/weight/DequantizeLinear_output_0", integers = w + ".quantized";
            if (options.KeepFloatWeights)
            {
                // Fake quantization for QAT: the float weight trains through Q/DQ (straight-through gradient).
                integers = g + "/weight/QuantizeLinear_output_0";
                var range = new Dictionary<string, AttributeValue>(axis)
                    { ["qmin"] = AttributeValue.Int(weightRange.QMin), ["qmax"] = AttributeValue.Int(weightRange.QMax) };
                nodes.Add(new Node(g + "/weight/QuantizeLinear", OpTypes.QuantizeLinear, [w, w + ".scale", w + ".zero_point"], [integers], range));
            }
            else
            {
                Add(graph, integers, new Tensor(q.Select(v => (float)v).ToArray(), weight.Shape),
                    options.WeightBits <= 4 ? ElementType.Int4 : ElementType.Int8);
                graph.Initializers.Remove(w);
                graph.Trainable.Remove(w);
            }
            nodes.Add(new Node(g + "/weight/DequantizeLinear", OpTypes.DequantizeLinear,
                [integers, w + ".scale", w + ".zero_point"], [dequantizedWeight], axis));
            node.Inputs[1] = dequantizedWeight;

            // Input: calibrated Q/DQ (static) or per-batch DynamicQuantizeLinear (dynamic).
            float? inputScale = null; int? inputZero = null;
            if (options.Mode == QuantizationMode.Static)
            {
                var p = inputParams![g];
                inputScale = p.Scale; inputZero = p.ZeroPoint;
                node.Inputs[0] = StaticInput(graph, nodes, sharedInputs, g, node.Inputs[0], p);
            }
            else if (options.Mode == QuantizationMode.Dynamic)
            {
                string y = g + "/input/DynamicQuantizeLinear_output_0", s = g + "/input/DynamicQuantizeLinear_output_1",
                    z = g + "/input/DynamicQuantizeLinear_output_2", dequantized = g + "/input/DequantizeLinear_output_0";
                nodes.Add(new Node(g + "/input/DynamicQuantizeLinear", OpTypes.DynamicQuantizeLinear, [node.Inputs[0]], [y, s, z]));
                nodes.Add(new Node(g + "/input/DequantizeLinear", OpTypes.DequantizeLinear, [y, s, z], [dequantized]));
                node.Inputs[0] = dequantized;
            }
            nodes.Add(node);
            layers.Add(new QuantizedLayer(g, w, options.WeightBits, perChannel.Min(p => p.Scale), perChannel.Max(p => p.Scale), inputScale, inputZero));
        }
        graph.Nodes.Clear();
        graph.Nodes.AddRange(nodes);
        foreach (var gather in embeddings) layers.Add(QuantizeEmbedding(graph, graph.Nodes.First(n => n.Name == gather.Name), options));
        if (samples?.Sums is { } sums)
        {
            var shifts = BiasCorrection.Correct(graph, source, sums).ToDictionary(c => c.Layer, c => c.MaxCorrection);
            layers = [.. layers.Select(l => shifts.TryGetValue(l.Node, out var shift) ? l with { BiasCorrection = shift } : l)];
        }
        // Residual Adds are quantized on the graph as corrected, so their ranges see the corrected layers.
        if (options.Mode == QuantizationMode.Static) { ResidualQuantization.Apply(graph, calibration!, options); QuantizedPooling.Propagate(graph); }
        graph.Validate();
        return (new GraphModule(graph), layers);
    }

    /// <summary>
    /// After quantization-aware training: replaces each weight's QuantizeLinear (on a float weight) by the
    /// integers it produces, so the model stores int8/int4 weights. The input model is not changed.
    /// </summary>
    public static GraphModule Convert(GraphModule qat)
    {
        var graph = qat.Graph.Clone();
        foreach (var q in graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear && graph.Trainable.Contains(n.Inputs[0])).ToList())
        {
            string w = q.Inputs[0];
            var weight = graph.Initializers[w];
            var zeroPoint = graph.Initializers[q.Inputs[2]];
            var (min, max) = graph.TypeOf(q.Inputs[2]).Range();
            min = q.Int("qmin", min); max = q.Int("qmax", max);
            Tensor integers;
            using (GradMode.NoGrad())
                integers = weight.Detach().QuantizeLinear(graph.Initializers[q.Inputs[1]], zeroPoint, (int)q.Int("axis", 1), min, max);
            bool fourBits = min >= -8 && max <= 7;
            string name = w + ".quantized";
            Add(graph, name, integers.Clone(), fourBits ? ElementType.Int4 : graph.TypeOf(q.Inputs[2]));
            foreach (var consumer in graph.Consumers(q.Outputs[0]).ToList())
                for (int i = 0; i < consumer.Inputs.Count; i++) if (consumer.Inputs[i] == q.Outputs[0]) consumer.Inputs[i] = name;
            graph.Nodes.Remove(q);
            graph.Initializers.Remove(w);
            graph.Trainable.Remove(w);
        }
        graph.Validate();
        return new GraphModule(graph);
    }

    // Weight-only, block-wise: DequantizeLinear(W_q, scale [out, blocks], 0, axis = 1, block_size) — ONNX's
    // blocked quantization (opset 21), the QDQ form of what MatMulNBits stores (Onnx/MatMulNBitsExport.cs).
    // A MatMul weight [in, out] is blocked along its axis 0: the same blocks of the transposed weight, transposed back.
    private static QuantizedLayer QuantizeBlockwise(ModelGraph graph, List<Node> nodes, Node node, int outputAxis, int blockSize, QuantRange range,
        int bits, WeightRounding rounding, LayerInput? input)
    {
        string g = node.Name, w = node.Inputs[1];
        if (node.OpType == OpTypes.Conv || graph.Initializers[w].Rank != 2)
            throw new CondenseException($"layer '{g}': block-wise quantization needs a Linear weight (Gemm or MatMul)");
        if (rounding == WeightRounding.Awq && input is not null)
        {
            // AWQ's scales move into the weight before rounding, and their inverse onto the layer's input.
            var (_, s) = Awq.Search(InputScaling.AsLinear(graph.Initializers[w], outputAxis), input.MeanAbs, input.SampleTensor(), blockSize, range);
            nodes.Add(InputScaling.Apply(graph, node, s, outputAxis, insert: false));
        }
        var weight = graph.Initializers[w];
        var linear = InputScaling.AsLinear(weight, outputAxis);
        var (integers, scales) = rounding == WeightRounding.Gptq && input?.Hessian is { } hessian
            ? Gptq.Quantize(linear, hessian, blockSize, range)
            : BlockwiseQuantizer.Quantize(linear, blockSize, range);
        if (outputAxis == 1) (integers, scales) = (integers.Transpose(), scales.Transpose());
        var integerType = bits <= 4 ? ElementType.Int4 : ElementType.Int8;
        Add(graph, w + ".quantized", integers, integerType);
        Add(graph, w + ".scale", scales, ElementType.Float32);
        Add(graph, w + ".zero_point", new Tensor(new float[scales.Size], scales.Shape), integerType);
        graph.Initializers.Remove(w);
        graph.Trainable.Remove(w);
        string dequantized = g + "/weight/DequantizeLinear_output_0";
        var attributes = new Dictionary<string, AttributeValue>
            { ["axis"] = AttributeValue.Int(1 - outputAxis), ["block_size"] = AttributeValue.Int(blockSize) };
        nodes.Add(new Node(g + "/weight/DequantizeLinear", OpTypes.DequantizeLinear,
            [w + ".quantized", w + ".scale", w + ".zero_point"], [dequantized], attributes));
        node.Inputs[1] = dequantized;
        return new QuantizedLayer(g, w, bits, scales.Data.Min(), scales.Data.Max(), null, null);
    }

    // The layers the pass rewrites: Conv; Gemm (its weight's output axis from transB); MatMul by a 2-D weight (x · W, W [in, out]).
    private static bool IsQuantizable(WeightTensor t, ModelGraph graph) => t.Node.OpType switch
    {
        OpTypes.Conv => t.OutputAxis == 0,
        OpTypes.Gemm => t.Node.Int("transA", 0) == 0,
        OpTypes.MatMul => t.Parameter.Rank == 2 && !graph.Initializers.ContainsKey(t.Node.Inputs[0]),
        _ => false,
    };

    private static IEnumerable<IReadOnlyDictionary<string, Tensor>> DatasetFeeds(Dataset data, string input, int samples) => input.Length == 0
        ? throw new CondenseException("calibration on a labelled data set needs a model with one input") : data.Take(samples).Feeds(input, 256);

    private static void Add(ModelGraph graph, string name, Tensor value, ElementType type)
    {
        graph.Initializers[name] = value;
        if (type != ElementType.Float32) graph.ElementTypes[name] = type;
    }

    // Runs the float model on the calibration samples, batch by batch, feeding each quantized layer's input to its own
    // observer (static mode) and to the samples AdaRound and bias correction keep (bounded statistics, not activations).
    // Under mpirun min-max ranges merge exactly, so its batches are handed out; other observers see every batch.
    private static Dictionary<string, QuantParams>? Calibrate(GraphModule model, IEnumerable<IReadOnlyDictionary<string, Tensor>> feeds,
        List<Node> layers, QuantizeOptions options, LayerSamples? samples)
    {
        bool observe = options.Mode == QuantizationMode.Static;
        var observers = layers.ToDictionary(n => n.Name, _ => Observer.Create(options.Calibration, options.Observer));
        var world = World.Current;
        bool split = world.IsDistributed && observe && samples is null && options.Calibration == CalibrationMethod.MinMax;
        LayerInputs.Visit(model, split ? feeds.Where((_, i) => world.Owns(i)) : feeds, layers, (node, x) =>
        { if (observe) observers[node.Name].Observe(x.Data); samples?.Add(node, x); });
        if (split) MinMaxObserver.Merge([.. layers.Select(n => (MinMaxObserver)observers[n.Name])], world);
        return observe ? observers.ToDictionary(o => o.Key, o => o.Value.Compute(QuantRange.UInt8, symmetric: false)) : null;
    }
}
