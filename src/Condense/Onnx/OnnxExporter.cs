// ONNX export: a ModelGraph (float, or quantized in QDQ form) written as an ONNX ModelProto that ONNX
// Runtime can run. Graph/ already holds the model in ONNX's shape, so export is mostly a change of
// container: nodes pass through (Dropout is dropped for inference, Condense-only attributes are removed),
// initializers keep their state-dict names and are written in their element type (OnnxTensors).
using Condense.Graph;
using Condense.Graph.Ops;
using Condense.Nn;
using Google.Protobuf;
using Onnx;

namespace Condense.Onnx;

/// <summary>Writes Condense models as ONNX files.</summary>
public static class OnnxExporter
{
    /// <summary>The ONNX opset of float and int8 graphs.</summary>
    public const int Opset = 13;

    /// <summary>The ONNX opset of graphs with INT4 initializers or block-wise scales (DequantizeLinear gained both in opset 21).</summary>
    public const int Int4Opset = 21;

    // How each op is written is its registry entry's Export (Graph/Ops): as it is, rewritten by the switch in ToGraph
    // (Dropout, Reshape), in ONNX Runtime's com.microsoft domain (QGemm, MatMulNBits written by QOperatorExport and
    // MatMulNBitsExport), or not at all.
    private static bool InContribDomain(string opType) => OpRegistry.Find(opType)?.Export == OpExport.ContribDomain;

    /// <summary>Writes <paramref name="graph"/> to <paramref name="path"/> as an ONNX model, atomically.</summary>
    public static void Export(ModelGraph graph, string path, string producer = "condense")
    {
        var model = ToModel(graph, producer);
        AtomicFile.Write(path, stream => model.WriteTo(stream));
    }

    /// <summary>Traces <paramref name="module"/> for inputs of shape (batch, …sampleShape) and writes it to <paramref name="path"/>.</summary>
    public static void Export(Module module, int[] sampleShape, string path, string producer = "condense") =>
        Export(GraphTracer.Trace(module, sampleShape), path, producer);

    /// <summary>Writes a quantized <paramref name="graph"/> (QDQ form) to <paramref name="path"/> in <paramref name="format"/>, atomically.</summary>
    public static void Export(ModelGraph graph, string path, QuantizedOnnxFormat format, string producer = "condense") =>
        Export(Convert(graph, format), path, producer);

    /// <summary>A quantized graph (QDQ form, as Quantizer makes it) rewritten into <paramref name="format"/>'s operators.</summary>
    public static ModelGraph Convert(ModelGraph qdq, QuantizedOnnxFormat format) => format switch
    {
        QuantizedOnnxFormat.Qdq => qdq,
        QuantizedOnnxFormat.QOperator => QOperatorExport.Convert(qdq),
        QuantizedOnnxFormat.MatMulNBits => MatMulNBitsExport.Convert(qdq),
        _ => throw new ArgumentOutOfRangeException(nameof(format)),
    };

    /// <summary>The ONNX model of <paramref name="graph"/> as the bytes of a .onnx file.</summary>
    public static byte[] ToBytes(ModelGraph graph) => ToModel(graph, "condense").ToByteArray();

    /// <summary>The ONNX model of <paramref name="module"/>, traced for inputs of shape (batch, …sampleShape), as bytes.</summary>
    public static byte[] ToBytes(Module module, int[] sampleShape) => ToBytes(GraphTracer.Trace(module, sampleShape));

    /// <summary>The ONNX ModelProto of <paramref name="graph"/>.</summary>
    public static ModelProto ToModel(ModelGraph graph, string producer = "condense")
    {
        ArgumentNullException.ThrowIfNull(graph);
        graph.Validate();
        // INT4 tensors and block-wise DequantizeLinear arrived with IR version 10 (ONNX 1.16, opset 21); the rest needs only 8.
        bool int4 = graph.ElementTypes.Values.Contains(ElementType.Int4)
            || graph.Nodes.Any(n => n.OpType == OpTypes.DequantizeLinear && n.Int("block_size", 0) > 0);
        int opset = ExportOpset(graph, int4);
        if (graph.Opset is int own && opset > own) graph = OpsetForms.Raise(graph, own, opset);
        var model = new ModelProto
        {
            // The IR version each opset arrived with (ONNX docs/Versioning.md): 8 up to opset 18, 9 for 19–20, 10 for 21–22,
            // 11 for 23, 12 for 24, 13 for 25–26.
            IrVersion = opset switch { >= 25 => 13, 24 => 12, 23 => 11, >= 21 => 10, >= 19 => 9, _ => 8 },
            ProducerName = producer,
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = ToGraph(graph),
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        foreach (var (key, value) in graph.Metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        if (graph.Nodes.Any(n => InContribDomain(n.OpType)))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = QOperatorExport.MicrosoftDomain, Version = 1 });
        return model;
    }

    // The opset written: an imported graph's own (its nodes keep that opset's forms), at least 13 when Condense's
    // quantization ops are present (per-channel axis) or the graph was built here, 21 for INT4, and never below the
    // opset any of its ops arrived in.
    private static int ExportOpset(ModelGraph graph, bool int4)
    {
        bool quantized = graph.Nodes.Any(n => n.OpType is OpTypes.QuantizeLinear or OpTypes.DequantizeLinear);
        int opset = graph.Opset is { } own ? Math.Max(own, quantized ? Opset : own) : Opset;
        if (int4) opset = Math.Max(opset, Int4Opset);
        foreach (var node in graph.Nodes)
            if (OpRegistry.Find(node.OpType) is { } def) opset = Math.Max(opset, def.Since);
        return opset;
    }

    private static GraphProto ToGraph(ModelGraph graph)
    {
        var proto = new GraphProto { Name = "condense" };
        foreach (var input in graph.Inputs) proto.Input.Add(OnnxTensorWriter.TypedValueInfo(input));
        foreach (var output in graph.Outputs) proto.Output.Add(OnnxTensorWriter.TypedValueInfo(output));

        // Dropout is the identity at inference: its readers read its input instead. A Dropout that writes
        // a graph output keeps the output's name through an Identity node.
        var graphOutputs = graph.Outputs.Select(o => o.Name).ToHashSet();
        var alias = new Dictionary<string, string>();
        string Resolve(string value) => alias.TryGetValue(value, out var a) ? a : value;
        var int64Shapes = new HashSet<string>();
        var zeroPointTypes = new Dictionary<string, ElementType>();

        foreach (var node in graph.Nodes)
        {
            var inputs = node.Inputs.Select(Resolve).ToList();
            var outputs = node.Outputs;
            string opType = node.OpType;
            var attributes = node.Attributes.AsEnumerable();
            switch (opType)
            {
                case OpTypes.Dropout:
                    if (!graphOutputs.Contains(node.Outputs[0])) { alias[node.Outputs[0]] = inputs[0]; continue; }
                    opType = OpTypes.Identity;
                    inputs = [inputs[0]];
                    outputs = [node.Outputs[0]]; // the optional mask output has no reader at inference
                    attributes = [];
                    break;
                case OpTypes.BatchNormalization when (node.Int("training_mode", 0) != 0 || node.Outputs.Count > 1) && (graph.Opset ?? Opset) < 14:
                    // Opset 13 has only the inference form; a traced model trains through OpContext.Training instead.
                    // An imported graph of opset 14 or later keeps its training form as it is.
                    throw new CondenseException($"node '{node.Name}' (BatchNormalization): the training form " +
                        $"(training_mode, running-statistic outputs) cannot be exported at opset {Opset}");
                case OpTypes.Reshape:
                    // ONNX reads the target shape as int64; a traced graph holds it as a float32 initializer. A shape computed
                    // in the graph (Shape → Gather → Concat in an exported transformer) is int64 already.
                    if (inputs.Count < 2) throw new CondenseException($"node '{node.Name}' (Reshape) has no shape input");
                    if (graph.Initializers.TryGetValue(inputs[1], out var shape) && shape.DataType == Tensors.DataType.Float32) int64Shapes.Add(inputs[1]);
                    break;
                case OpTypes.DequantizeLinear or OpTypes.QuantizeLinear:
                    // ONNX binds x (or y) and the zero point to one type; Condense may hold an int4 weight's
                    // zero point as Int8. Export the zero point in the quantized tensor's type.
                    if (opType == OpTypes.DequantizeLinear && inputs.Count > 2 && graph.Initializers.ContainsKey(inputs[0])
                        && graph.TypeOf(inputs[0]) == ElementType.Int4 && graph.Initializers.ContainsKey(inputs[2]))
                        zeroPointTypes[inputs[2]] = ElementType.Int4;
                    break;
                case OpTypes.Add or OpTypes.Sub or OpTypes.Mul or OpTypes.Div or OpTypes.Pow when node.Attributes.ContainsKey("broadcast"):
                    throw new CondenseException(
                        $"node '{node.Name}' ({opType}) broadcasts along an axis as opset 1–6 did; it cannot be written at opset {Opset}");
                default:
                    if (OpRegistry.Find(opType)?.Export is not (OpExport.AsIs or OpExport.ContribDomain))
                        throw new CondenseException($"cannot export op '{opType}' in node '{node.Name}' to ONNX; supported: "
                            + string.Join(", ", OpRegistry.Exportable));
                    // Integer parameters (axes, pads, shapes, indices) an older graph holds as float32 are written as ONNX reads them.
                    foreach (int i in OpRegistry.Find(opType)!.IntegerInputs)
                        if (i < inputs.Count && graph.Initializers.TryGetValue(inputs[i], out var held) && held.DataType == Tensors.DataType.Float32)
                            int64Shapes.Add(inputs[i]);
                    break;
            }
            if (OpRegistry.Find(opType)?.CondenseAttributes is [_, ..] drop) attributes = attributes.Where(a => !drop.Contains(a.Key));

            var onnxNode = new NodeProto { Name = node.Name, OpType = opType, Domain = InContribDomain(opType) ? QOperatorExport.MicrosoftDomain : "" };
            onnxNode.Input.AddRange(inputs);
            onnxNode.Output.AddRange(outputs);
            foreach (var (name, value) in attributes.OrderBy(a => a.Key, StringComparer.Ordinal))
                onnxNode.Attribute.Add(OnnxTensorWriter.Attribute(name, value));
            proto.Node.Add(onnxNode);
        }

        foreach (var (name, tensor) in graph.Initializers)
            proto.Initializer.Add(int64Shapes.Contains(name)
                ? OnnxTensorWriter.Int64Tensor(name, tensor)
                : OnnxTensorWriter.Tensor(name, tensor, zeroPointTypes.GetValueOrDefault(name, graph.TypeOf(name))));
        return proto;
    }
}
