// ONNX import: a ModelProto (opset 1–26 — older opsets adapted by Graph/Ops/OpsetUpgrades — default domain, and the com.microsoft
// QOperator ops Condense writes, rewritten into QDQ form by QOperatorImport) becomes a ModelGraph that GraphModule
// runs and trains. Inputs that are not initializers become graph inputs, Constant nodes become initializers, float
// initializers (and Constants, where they hold the weights) become trainable, and every fault in the file is a one-line
// error naming it.
using Condense.Graph;
using Condense.Graph.Ops;
using Condense.Tensors;
using Google.Protobuf;
using Onnx;

namespace Condense.Onnx;

/// <summary>Reads ONNX model files into Condense graphs.</summary>
public static class OnnxImporter
{
    /// <summary>The lowest default-domain opset accepted (below opset 7, only for ops whose meaning did not change or OpsetUpgrades adapts).</summary>
    public const int MinOpset = 1;
    /// <summary>The highest default-domain opset accepted.</summary>
    public const int MaxOpset = OpsetUpgrades.Latest;

    // The com.microsoft ops of ONNX Runtime's transformer optimizer (onnxruntime.transformers.optimizer; Hugging Face Optimum's
    // O2–O4 files), named as such when a model holds them.
    private static readonly HashSet<string> TransformerFusions =
    [
        "Attention", "MultiHeadAttention", "EmbedLayerNormalization", OpTypes.SkipLayerNormalization, "SkipSimplifiedLayerNormalization",
        "BiasGelu", "FastGelu", OpTypes.Gelu, "QuickGelu", "BiasAdd", "BiasSplitGelu", "GroupQueryAttention", "RotaryEmbedding",
        "SimplifiedLayerNormalization",
    ];

    /// <summary>Reads the model in <paramref name="path"/> as a validated graph.</summary>
    public static ModelGraph Import(string path)
    {
        // Streamed, with large float initializers read straight into our tensors' storage (OnnxStreamReader): a 90 MB model
        // would otherwise be held twice (the protobuf's raw data and our tensors) or three times (with the file's bytes).
        OnnxStreamModel parsed;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            parsed = OnnxStreamReader.Read(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidFileException(path, "file not found");
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidDataException)
        {
            throw new InvalidFileException(path, $"not a valid ONNX model (truncated or corrupt protobuf: {e.Message.ReplaceLineEndings(" ")})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidFileException(path, $"cannot read: {e.Message.ReplaceLineEndings(" ")}");
        }
        var model = parsed.Model;
        if (model.Graph is null || model.IrVersion <= 0) throw new InvalidFileException(path, "not an ONNX model (no graph or IR version)");
        long opset = CheckOpsets(model, path);
        OnnxExternalData.Resolve(model.Graph, path);
        MergedDecoderImport.Inline(model.Graph, path);
        var graph = ToGraph(model.Graph, parsed.FloatData, opset, path);
        foreach (var property in model.MetadataProps) graph.Metadata[property.Key] = property.Value;
        return graph;
    }

    /// <summary>Reads the model in <paramref name="path"/> as an executable, trainable module.</summary>
    public static GraphModule Load(string path) => new(Import(path));

    private static long CheckOpsets(ModelProto model, string path)
    {
        long? opset = null;
        foreach (var import in model.OpsetImport)
        {
            if (import.Domain is "" or "ai.onnx") { opset = import.Version; continue; }
            // e.g. com.microsoft beyond the QOperator ops read here: name the ops, so the user knows what to change.
            var ops = model.Graph?.Node.Where(n => n.Domain == import.Domain).Select(n => n.OpType).Distinct().ToList() ?? [];
            // A domain declared and not used (ONNX Runtime's saved optimized models declare all of theirs) asks for nothing.
            if (ops.Count == 0) continue;
            bool read = ops.All(op => QOperatorImport.MicrosoftOps.Contains(op) || ContribOpsImport.Ops.Contains(op));
            if (import.Domain == QOperatorExport.MicrosoftDomain && read) continue;
            throw new InvalidFileException(path, $"opset domain '{import.Domain}' is not supported (only the default ONNX domain)"
                + $"; its ops here: {string.Join(", ", ops)}"
                + (ops.Any(TransformerFusions.Contains) ? "; ONNX Runtime's transformer optimizer writes these (model_O2.onnx … model_O4.onnx): "
                    + "give the model as exported, before that optimization" : ""));
        }
        if (opset is not { } v) throw new InvalidFileException(path, "declares no default-domain opset");
        if (v < MinOpset || v > MaxOpset)
            throw new InvalidFileException(path, $"opset {v} is not supported (supported: {MinOpset}–{MaxOpset})");
        return v;
    }

    private static ModelGraph ToGraph(GraphProto proto, IReadOnlyDictionary<TensorProto, float[]> floatData, long opset, string path)
    {
        var graph = new ModelGraph { Opset = (int)Math.Max(opset, OpsetUpgrades.Current) };
        var uint4 = new HashSet<string>();
        var typed = new Dictionary<string, TensorProto>();
        var floatConstants = new HashSet<string>();
        foreach (var init in proto.Initializer)
        {
            if (graph.Initializers.ContainsKey(init.Name)) throw new InvalidFileException(path, $"initializer '{init.Name}' is defined twice");
            var (tensor, type) = OnnxTensors.Read(init, path, floatData.GetValueOrDefault(init));
            if (init.DataType != OnnxTensors.Float) typed[init.Name] = init;
            // The float values now live in the tensor; dropping the protobuf's copy lets the collector reclaim it while the rest loads.
            else init.RawData = ByteString.Empty;
            if (init.DataType == OnnxTensors.UInt4) uint4.Add(init.Name);
            graph.Initializers.Add(init.Name, tensor);
            if (type is { } t) graph.ElementTypes[init.Name] = t;
            // Scalars are constants an exporter folded (exponents, epsilons, score scales), as Constant nodes would carry them:
            // training one would move a layer norm's epsilon, or take the NaN gradient of Pow's exponent at a negative base.
            else if (init.DataType is OnnxTensors.Float or OnnxTensors.Double && tensor.Rank > 0) graph.Trainable.Add(init.Name);
        }
        // Before IR version 4, initializers were also listed as inputs; those are not fed by the caller.
        foreach (var input in proto.Input)
            if (!graph.Initializers.ContainsKey(input.Name)) graph.Inputs.Add(ToValueInfo(input));
        foreach (var output in proto.Output) graph.Outputs.Add(ToValueInfo(output));

        var nodes = new List<Node>();
        var rewrittenInputs = new HashSet<string>();
        for (int i = 0; i < proto.Node.Count; i++)
        {
            var n = proto.Node[i];
            string name = n.Name.Length > 0 ? n.Name : $"{n.OpType}_{i}";
            if (n.Domain is not ("" or "ai.onnx") && !(n.Domain == QOperatorExport.MicrosoftDomain
                    && (QOperatorImport.MicrosoftOps.Contains(n.OpType) || ContribOpsImport.Ops.Contains(n.OpType))))
                throw new CondenseException($"node '{name}' uses op '{n.OpType}' from domain '{n.Domain}'; only the default ONNX domain is supported");
            bool contrib = n.Domain == QOperatorExport.MicrosoftDomain && ContribOpsImport.Ops.Contains(n.OpType);
            if (n.OpType == OpTypes.Constant)
            {
                if (AddConstant(graph, n, name, path, typed) is { } weight) floatConstants.Add(weight);
                continue;
            }
            if (contrib)
            {
                var fused = new Node(name, n.OpType, n.Input, n.Output);
                foreach (var a in n.Attribute) fused.Attributes[a.Name] = ToAttribute(a, fused);
                nodes.AddRange(ContribOpsImport.Rewrite(graph, fused, opset, nodes));
                rewrittenInputs.UnionWith(fused.Inputs);
                continue;
            }
            // Omitted optional outputs are written as "": give them names so every value is unique.
            var outputs = n.Output.Select((o, k) => o.Length > 0 ? o : $"{name}/unused{k}").ToList();
            var node = new Node(name, n.OpType, n.Input, outputs);
            if (!OpRegistry.CanImport(node.OpType)) throw GraphOps.Unsupported(node);
            foreach (var a in n.Attribute) node.Attributes[a.Name] = ToAttribute(a, node);
            nodes.AddRange(OpsetUpgrades.Upgrade(graph, node, opset));
        }
        // QOperator files (QGemm, QLinearConv, MatMulNBits, …) become the QDQ graph they stand for.
        nodes = QOperatorImport.Rewrite(graph, nodes);
        try { graph.Nodes.AddRange(TopologicalOrder(nodes)); }
        catch (CondenseException e) when (e is not InvalidFileException) { throw new InvalidFileException(path, e.Message); }
        QOperatorImport.DequantizeAroundCodeOps(graph);
        ContribOpsImport.DropUnread(graph, rewrittenInputs);
        NarrowUInt4Quantization(graph, uint4);
        TypeConstants(graph, typed, path);
        OwnCopiesOfIdentityConstants(graph);
        Float16Upcast.Apply(graph);
        // Paddle2ONNX writes every weight as a Constant node and no initializer: there, the float Constants are the
        // parameters (a layer's weight is one). Elsewhere a float Constant is something the exporter built (rotary
        // frequencies, a mask), kept fixed.
        if (graph.Trainable.Count == 0 && graph.Nodes.Any(n => n.OpType is OpTypes.Conv or OpTypes.ConvTranspose or OpTypes.Gemm or OpTypes.MatMul
                && n.Inputs.Count > 1 && floatConstants.Contains(n.Inputs[1])))
            graph.Trainable.UnionWith(floatConstants.Where(graph.Initializers.ContainsKey));
        // Quantization parameters (the scale and zero point inputs of Q/DQ nodes) are fixed, not trained.
        foreach (var node in graph.Nodes.Where(n => n.OpType is OpTypes.QuantizeLinear or OpTypes.DequantizeLinear))
            foreach (var name in node.Inputs.Skip(1)) graph.Trainable.Remove(name);
        // Batch norm's running statistics are buffers, updated by the op in training mode, not by an optimizer.
        foreach (var node in graph.Nodes.Where(n => n.OpType == OpTypes.BatchNormalization))
            foreach (var name in node.Inputs.Skip(3)) graph.Trainable.Remove(name);
        try { graph.Validate(); }
        catch (CondenseException e) when (e is not InvalidFileException) { throw new InvalidFileException(path, e.Message); }
        return graph;
    }

    // PyTorch's exporter (1.12+) writes parameters of equal value once and gives every other layer Identity(that tensor): each
    // such Identity becomes the initializer it copies, so every layer owns its parameters again (as in the model that was
    // exported) and the passes that rewrite a layer's tensors (narrowing, pruning, folding) find them as initializers.
    private static void OwnCopiesOfIdentityConstants(ModelGraph graph)
    {
        var outputs = graph.Outputs.Select(o => o.Name).ToHashSet();
        foreach (var node in graph.Nodes.Where(n => n.OpType == OpTypes.Identity).ToList())
        {
            string source = node.Inputs[0], copy = node.Outputs[0];
            if (!graph.Initializers.TryGetValue(source, out var tensor) || outputs.Contains(copy)) continue;
            graph.Initializers[copy] = tensor.Clone();
            if (graph.Trainable.Contains(source)) graph.Trainable.Add(copy);
            if (graph.ElementTypes.TryGetValue(source, out var type)) graph.ElementTypes[copy] = type;
            graph.Nodes.Remove(node);
        }
    }

    // UINT4 tensors are held as UInt8 (OnnxTensors); a QuantizeLinear writing UINT4 keeps its range [0, 15] by the
    // engine's qmin/qmax attributes (the narrower-range mechanism of 4-bit QAT).
    private static void NarrowUInt4Quantization(ModelGraph graph, HashSet<string> uint4)
    {
        foreach (var node in graph.Nodes.Where(n => n.OpType == OpTypes.QuantizeLinear && n.Inputs.Count > 2 && uint4.Contains(n.Inputs[2])))
        {
            node.Attributes["qmin"] = AttributeValue.Int(0);
            node.Attributes["qmax"] = AttributeValue.Int(15);
        }
    }

    // The ops that read integer initializers as the float-held codes of the quantized-graph form (Graph/ElementType).
    private static readonly HashSet<string> QuantizationOps =
        [OpTypes.QuantizeLinear, OpTypes.DequantizeLinear, OpTypes.DynamicQuantizeLinear, OpTypes.MatMulInteger, OpTypes.ConvInteger];

    // Every constant that is not float32 takes its own element type (int64 shapes, bool masks, float64 values),
    // except the 8-bit, int32 and 4-bit codes that only quantization ops read: those keep the float-held form
    // the quantized-graph passes and integer engines work on.
    private static void TypeConstants(ModelGraph graph, Dictionary<string, TensorProto> typed, string path)
    {
        foreach (var (name, proto) in typed)
        {
            if (!graph.Initializers.ContainsKey(name)) continue;
            bool codes = graph.ElementTypes.ContainsKey(name)
                && graph.Nodes.Where(n => n.Inputs.Contains(name)).All(n => QuantizationOps.Contains(n.OpType));
            if (codes) continue;
            graph.Initializers[name] = OnnxTensors.ReadTyped(proto, path);
            graph.ElementTypes.Remove(name);
            graph.Trainable.Remove(name);
        }
    }

    private static ValueInfo ToValueInfo(ValueInfoProto value)
    {
        var dims = value.Type?.TensorType?.Shape?.Dim;
        var shape = dims is null ? [] : dims.Select(d => d.HasDimValue && d.DimValue > 0 && d.DimValue <= int.MaxValue ? (int)d.DimValue : -1).ToArray();
        return new ValueInfo(value.Name, shape)
        {
            DataType = value.Type?.TensorType is { } tensor ? OnnxTensors.TypeName(tensor.ElemType) : "?",
            DimensionNames = dims is null ? [] : [.. dims.Select(d => d.HasDimParam && d.DimParam.Length > 0 ? d.DimParam : null)],
        };
    }

    private static AttributeValue ToAttribute(AttributeProto a, Node node) => a.Type switch
    {
        AttributeProto.Types.AttributeType.Int => AttributeValue.Int(a.I),
        AttributeProto.Types.AttributeType.Float => AttributeValue.Float(a.F),
        AttributeProto.Types.AttributeType.String => AttributeValue.String(a.S.ToStringUtf8()),
        AttributeProto.Types.AttributeType.Ints => AttributeValue.Ints([.. a.Ints]),
        AttributeProto.Types.AttributeType.Floats => AttributeValue.Floats([.. a.Floats]),
        AttributeProto.Types.AttributeType.Tensor when a.T is { } t => AttributeValue.Tensor(OnnxTensors.ReadTyped(t, node.Name)),
        var t => throw new CondenseException($"node '{node.Name}' ({node.OpType}): attribute '{a.Name}' of type {t} is not supported"),
    };

    // A Constant node is an initializer under its output's name. Returns that name when the value is a float tensor of
    // rank ≥ 1 (a weight, where an exporter writes weights this way).
    private static string? AddConstant(ModelGraph graph, NodeProto n, string name, string path, Dictionary<string, TensorProto> typed)
    {
        if (n.Output.Count != 1 || n.Attribute.Count != 1)
            throw new InvalidFileException(path, $"Constant node '{name}' needs one output and one value attribute");
        var a = n.Attribute[0];
        (Tensor Tensor, ElementType? Type) value = a.Name switch
        {
            "value" when a.T is not null => OnnxTensors.Read(a.T, path),
            "value_float" => (Tensor.Scalar(a.F), null),
            "value_int" => (Tensor.FromInt64s([a.I], DataType.Int64), null),
            "value_floats" => (new Tensor([.. a.Floats], a.Floats.Count), null),
            "value_ints" => (Tensor.FromInt64s([.. a.Ints], DataType.Int64, a.Ints.Count), null),
            _ => throw new CondenseException($"Constant node '{name}': attribute '{a.Name}' is not supported"),
        };
        string output = n.Output[0];
        if (graph.Initializers.ContainsKey(output)) throw new InvalidFileException(path, $"value '{output}' is defined twice (Constant node '{name}')");
        graph.Initializers.Add(output, value.Tensor);
        if (value.Type is { } t) graph.ElementTypes[output] = t;
        if (a.Name == "value" && a.T is { DataType: not OnnxTensors.Float } proto) typed[output] = proto;
        return a.Name == "value" && a.T.DataType == OnnxTensors.Float && value.Type is null && value.Tensor.Rank > 0 ? output : null;
    }

    // Nodes as given when already in order; otherwise Kahn's algorithm, keeping the given order among
    // ready nodes. Inputs nothing produces are left for Validate to report.
    private static List<Node> TopologicalOrder(List<Node> nodes)
    {
        var producer = new Dictionary<string, int>();
        for (int i = 0; i < nodes.Count; i++)
            foreach (var o in nodes[i].Outputs) producer.TryAdd(o, i);
        var dependents = nodes.Select(_ => new List<int>()).ToArray();
        var waiting = new int[nodes.Count];
        bool ordered = true;
        for (int i = 0; i < nodes.Count; i++)
            foreach (int p in nodes[i].Inputs.Where(producer.ContainsKey).Select(v => producer[v]).Distinct())
            {
                if (p >= i) ordered = false;
                dependents[p].Add(i);
                waiting[i]++;
            }
        if (ordered) return nodes;
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < nodes.Count; i++) if (waiting[i] == 0) ready.Enqueue(i, i);
        var order = new List<Node>(nodes.Count);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(nodes[i]);
            foreach (int d in dependents[i]) if (--waiting[d] == 0) ready.Enqueue(d, d);
        }
        if (order.Count < nodes.Count)
        {
            var stuck = nodes.Where((_, i) => waiting[i] > 0).Select(n => n.Name).Take(5);
            throw new CondenseException($"the graph has a cycle through nodes {string.Join(", ", stuck)}");
        }
        return order;
    }
}
