// The graph's structure (no weights) as JSON, stored in a checkpoint's safetensors metadata so that
// any model — built from a spec, imported from ONNX, shrunk by pruning — loads back as it was.
using System.Text.Json;
using System.Text.Json.Nodes;
using Condense.Graph;

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
            var graph = new ModelGraph();
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

    private static JsonNode ValueToJson(ValueInfo v) => new JsonObject
    {
        ["name"] = v.Name,
        ["shape"] = new JsonArray(v.Shape.Select(d => (JsonNode)d).ToArray()),
    };

    private static ValueInfo ValueFromJson(JsonNode? v) =>
        new(Text(v?["name"]), Array(v!, "shape").Select(d => (int)d!).ToArray());

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
        throw new JsonException("attribute without a value");
    }
}
