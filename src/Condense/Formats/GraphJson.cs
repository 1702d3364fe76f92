// The graph's structure (no weights) as JSON, stored in a checkpoint's safetensors metadata so that
// any model — built from a spec, imported from ONNX, shrunk by pruning — loads back as it was.
using System.Text.Json;
using System.Text.Json.Nodes;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Formats;

/// <summary>Writes and reads the structure of a <see cref="ModelGraph"/> as JSON.</summary>
public static class GraphJson
{
    /// <summary>The graph's inputs, outputs, nodes and the names of its initializers, as compact JSON.</summary>
    public static string Serialize(ModelGraph graph)
    {
        var root = new JsonObject
        {
            ["inputs"] = new JsonArray(graph.Inputs.Select(ValueToJson).ToArray()),
            ["outputs"] = new JsonArray(graph.Outputs.Select(ValueToJson).ToArray()),
            ["nodes"] = new JsonArray(graph.Nodes.Select(NodeToJson).ToArray()),
            ["initializers"] = new JsonArray(graph.Initializers.Keys.Select(k => (JsonNode)k).ToArray()),
            ["trainable"] = new JsonArray(graph.Initializers.Keys.Where(graph.Trainable.Contains).Select(k => (JsonNode)k).ToArray()),
        };
        if (graph.Opset is { } opset) root["opset"] = opset;
        if (graph.Metadata.Count > 0) root["metadata"] = new JsonObject(graph.Metadata.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)m.Value)));
        return root.ToJsonString();
    }

    /// <summary>
    /// Rebuilds a graph from <paramref name="json"/>, taking initializer values from <paramref name="tensors"/>.
    /// <paramref name="source"/> names the file in errors.
    /// </summary>
    public static ModelGraph Deserialize(string json, IReadOnlyDictionary<string, Tensors.Tensor> tensors, string source)
    {
        try
        {
            var root = JsonNode.Parse(json)?.AsObject() ?? throw new JsonException("empty graph");
            var graph = new ModelGraph { Opset = (int?)root["opset"] };
            if (root["metadata"] is JsonObject metadata) foreach (var (key, value) in metadata) graph.Metadata[key] = (string?)value ?? "";
            foreach (var v in Array(root, "inputs")) graph.Inputs.Add(ValueFromJson(v));
            foreach (var v in Array(root, "outputs")) graph.Outputs.Add(ValueFromJson(v));
            foreach (var n in Array(root, "nodes"))
            {
                var node = n!.AsObject();
                var attributes = new Dictionary<string, AttributeValue>();
                if (node["attributes"] is JsonObject attrs)
                    foreach (var (name, value) in attrs) attributes[name] = AttributeFromJson(value!.AsObject());
                graph.Nodes.Add(new Node(Text(node["name"]), Text(node["op"]),
                    Array(node, "inputs").Select(Text), Array(node, "outputs").Select(Text), attributes));
            }
            var trainable = Array(root, "trainable").Select(t => (string)t!).ToHashSet();
            foreach (var i in Array(root, "initializers"))
            {
                string name = Text(i);
                if (!tensors.TryGetValue(name, out var value))
                    throw new InvalidFileException(source, $"the model's graph needs tensor '{name}', which the file does not hold");
                graph.Initializers.Add(name, value);
                if (trainable.Contains(name)) graph.Trainable.Add(name);
            }
            graph.Validate();
            return graph;
        }
        // Validate's CondenseException (an undefined value, a value defined twice) is a malformed graph too.
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or NullReferenceException or ArgumentException
            or CondenseException and not InvalidFileException)
        {
            throw new InvalidFileException(source, $"the model graph in the file's metadata is malformed ({e.Message.Split('\n')[0]})");
        }
    }

    private static JsonArray Array(JsonNode node, string key) =>
        node[key] as JsonArray ?? throw new JsonException($"missing array '{key}'");

    // The element type is written when it is not float (older files have none: float).
    private static JsonNode ValueToJson(ValueInfo v)
    {
        var json = new JsonObject { ["name"] = v.Name, ["shape"] = new JsonArray(v.Shape.Select(d => (JsonNode)d).ToArray()) };
        if (v.DataType != "float") json["type"] = v.DataType;
        return json;
    }

    private static ValueInfo ValueFromJson(JsonNode? v) =>
        new(Text(v?["name"]), Array(v!, "shape").Select(d => (int)d!).ToArray()) { DataType = (string?)v!["type"] ?? "float" };

    private static string Text(JsonNode? node) => node?.GetValue<string>() ?? throw new JsonException("missing name");

    private static JsonNode NodeToJson(Node n)
    {
        var attributes = new JsonObject();
        foreach (var (name, a) in n.Attributes)
            attributes[name] = a.Kind switch
            {
                AttributeKind.Int => new JsonObject { ["int"] = a.IntValue },
                AttributeKind.Float => new JsonObject { ["float"] = a.FloatValue },
                AttributeKind.String => new JsonObject { ["string"] = a.StringValue },
                AttributeKind.Ints => new JsonObject { ["ints"] = new JsonArray(a.IntsValue!.Select(x => (JsonNode)x).ToArray()) },
                AttributeKind.Tensor => new JsonObject { ["tensor"] = TensorToJson(a.TensorValue!) },
                _ => new JsonObject { ["floats"] = new JsonArray(a.FloatsValue!.Select(x => (JsonNode)x).ToArray()) },
            };
        return new JsonObject
        {
            ["name"] = n.Name,
            ["op"] = n.OpType,
            ["inputs"] = new JsonArray(n.Inputs.Select(i => (JsonNode)i).ToArray()),
            ["outputs"] = new JsonArray(n.Outputs.Select(o => (JsonNode)o).ToArray()),
            ["attributes"] = attributes,
        };
    }

    private static AttributeValue AttributeFromJson(JsonObject o)
    {
        if (o["int"] is { } i) return AttributeValue.Int((long)i);
        if (o["float"] is { } f) return AttributeValue.Float((float)f);
        if (o["string"] is { } s) return AttributeValue.String((string)s!);
        if (o["ints"] is JsonArray ints) return AttributeValue.Ints(ints.Select(x => (long)x!).ToArray());
        if (o["floats"] is JsonArray floats) return AttributeValue.Floats(floats.Select(x => (float)x!).ToArray());
        if (o["tensor"] is JsonObject t) return AttributeValue.Tensor(TensorFromJson(t));
        throw new JsonException("attribute without a value");
    }

    // A small tensor attribute: its ONNX type name, shape and values (integers as strings, so int64 stays exact).
    private static JsonObject TensorToJson(Tensor t) => new()
    {
        ["type"] = t.DataType.OnnxName(),
        ["shape"] = new JsonArray(t.Shape.Select(d => (JsonNode)d).ToArray()),
        ["values"] = new JsonArray(Enumerable.Range(0, t.Size).Select(i => (JsonNode)(t.DataType.Storage() == TensorStorage.Int64
            ? t.Int64Data[i].ToString(System.Globalization.CultureInfo.InvariantCulture)
            : t.GetDouble(i).ToString("R", System.Globalization.CultureInfo.InvariantCulture))).ToArray()),
    };

    private static Tensor TensorFromJson(JsonObject o)
    {
        var type = DataTypes.FromOnnxName((string)o["type"]!) ?? throw new JsonException($"unknown tensor type '{o["type"]}'");
        var shape = o["shape"]!.AsArray().Select(d => (int)d!).ToArray();
        var values = o["values"]!.AsArray().Select(v => (string)v!).ToArray();
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return type.Storage() switch
        {
            TensorStorage.Int64 => Tensor.FromInt64s(values.Select(v => long.Parse(v, inv)).ToArray(), type, shape),
            TensorStorage.Double => Tensor.FromDoubles(values.Select(v => double.Parse(v, inv)).ToArray(), shape),
            _ => Tensor.FromFloats(values.Select(v => float.Parse(v, inv)).ToArray(), type, shape),
        };
    }
}
