// Tensors whose bytes live outside the .onnx file (ONNX IR "external data", docs/ExternalData.md): exporters write them
// so for models over protobuf's 2 GB limit, and onnx.save_model(save_as_external_data=True) does for any model. Each
// tensor names a file relative to the model's folder ("location"), an "offset" into it and a "length" (default: to
// the end); the bytes are read into the tensor's raw_data, so the rest of the import sees an ordinary tensor.
using Google.Protobuf;
using Onnx;

namespace Condense.Onnx;

internal static class OnnxExternalData
{
    /// <summary>Reads every external tensor of <paramref name="graph"/> (initializers and Constant values) into its raw data.</summary>
    public static void Resolve(GraphProto graph, string modelPath)
    {
        var tensors = graph.Initializer.Concat(graph.Node.SelectMany(n => n.Attribute).Where(a => a.T is not null).Select(a => a.T));
        foreach (var tensor in tensors.Where(IsExternal).ToList()) Load(tensor, modelPath);
    }

    private static bool IsExternal(TensorProto tensor) =>
        tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0;

    private static void Load(TensorProto tensor, string modelPath)
    {
        string name = tensor.Name;
        var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value);
        if (!entries.TryGetValue("location", out string? location) || location.Length == 0)
            throw new InvalidFileException(modelPath, $"tensor '{name}' is stored outside the file but names no location");
        string folder = Path.GetDirectoryName(Path.GetFullPath(modelPath)) ?? ".";
        string file = Path.GetFullPath(Path.Combine(folder, location));
        // The spec's location is relative to the model; one that leaves its folder is refused (as ONNX Runtime does).
        if (Path.IsPathRooted(location) || !file.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new InvalidFileException(modelPath, $"tensor '{name}' is stored in '{location}', which is not inside the model's folder");
        long offset = Number(entries, "offset", 0, name, modelPath);
        if (!File.Exists(file))
            throw new InvalidFileException(modelPath, $"tensor '{name}' is stored in '{location}', which does not exist beside the model");
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = Number(entries, "length", stream.Length - offset, name, modelPath);
        if (offset > stream.Length || length < 0 || length > stream.Length - offset)
            throw new InvalidFileException(modelPath,
                $"tensor '{name}' needs bytes {offset}–{offset + length} of '{location}', which has {stream.Length}");
        if (length > Array.MaxLength) throw new InvalidFileException(modelPath, $"tensor '{name}' of {length:N0} bytes is too large");
        var bytes = new byte[length];
        stream.Position = offset;
        stream.ReadExactly(bytes);
        tensor.RawData = ByteString.CopyFrom(bytes);
        tensor.ExternalData.Clear();
        tensor.DataLocation = TensorProto.Types.DataLocation.Default;
    }

    private static long Number(Dictionary<string, string> entries, string key, long fallback, string name, string modelPath) =>
        !entries.TryGetValue(key, out string? text) ? fallback
        : long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value) ? value
        : throw new InvalidFileException(modelPath, $"tensor '{name}' has external-data {key} '{text}', not a whole number");
}
