// Model files by extension: .safetensors (Condense checkpoints: weights + graph) or .onnx (ONNX models,
// imported into and exported from the same graph). Every command and pass loads and saves through here,
// so a user can give an ONNX model anywhere a checkpoint is accepted, and get ONNX out.
using Condense.Graph;
using Condense.Onnx;
using Condense.Nn;

namespace Condense.Formats;

/// <summary>Loads and saves models in the format their file name says.</summary>
public static class ModelFile
{
    /// <summary>True for a path ending in .onnx.</summary>
    public static bool IsOnnx(string path) => path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    /// <summary>Loads a .safetensors checkpoint or an .onnx model as an executable, trainable graph module.</summary>
    public static GraphModule Load(string path)
    {
        Checkpoint.CheckIsFile(path);
        if (!IsOnnx(path)) return Checkpoint.Load(path);
        if (!File.Exists(path)) throw new CondenseException($"model file {path} does not exist");
        // Import faults the importer reports without the file (an unsupported op or attribute, a graph without
        // inputs) and weights whose shapes do not fit, found by one zero sample through the graph, all name the file.
        try
        {
            var model = SimplifiedSoftmax(OnnxImporter.Load(path));
            Checkpoint.DryRun(model);
            return model;
        }
        catch (Exception e) when (e is CondenseException or ArgumentException or IndexOutOfRangeException && e is not InvalidFileException)
        {
            throw new InvalidFileException(path, e.Message);
        }
    }

    // Softmax of opsets before 13 over a last axis is imported in its general coerced form (OpsetUpgrades.CoercedSoftmax); a pass
    // of a zero sample gives the ranks that show where it can be the plain op again.
    private static GraphModule SimplifiedSoftmax(GraphModule model)
    {
        var graph = model.Graph;
        bool coerced = graph.Nodes.Any(n => n.OpType is OpTypes.Softmax or OpTypes.LogSoftmax or OpTypes.Hardmax
            && graph.Producer(n.Inputs[0])?.OpType == OpTypes.Flatten);
        if (!coerced) return model;
        // Declared shapes, else 8 tokens (a transformer's dynamic sequence); a sample that does not fit leaves the model as it is.
        var sample = Checkpoint.DryRunSample(model) ?? EncoderLayers.DefaultSample(graph);
        model.Eval();
        Dictionary<string, Tensors.Tensor> values;
        try
        {
            using (Autograd.GradMode.NoGrad()) values = model.Run(sample);
        }
        catch (CondenseException) { return model; }
        var ranks = values.ToDictionary(v => v.Key, v => v.Value.Rank);
        if (Graph.Ops.OpsetUpgrades.SimplifyCoercedSoftmax(graph, ranks) == 0) return model;
        var simplified = new GraphModule(graph);
        simplified.Eval();
        return simplified;
    }

    /// <summary>
    /// Throws the one-line error <see cref="Save(ModelGraph, string, string?)"/> would give for a path that is neither
    /// .onnx nor .safetensors, so a command refuses it before training or calibrating rather than after.
    /// </summary>
    public static void CheckSavable(string path)
    {
        if (!IsOnnx(path)) Checkpoint.CheckExtension(path);
    }

    /// <summary>Saves a graph as a .safetensors checkpoint or an .onnx model, atomically.</summary>
    public static void Save(ModelGraph graph, string path, string? spec = null)
    {
        if (!IsOnnx(path)) { Checkpoint.Save(graph, path, spec); return; }
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new CondenseException($"output folder {dir} does not exist");
        OnnxExporter.Export(graph, path);
    }

    /// <summary>
    /// Saves a quantized graph: .safetensors as it is, .onnx in <paramref name="format"/> (QDQ, QOperator or
    /// MatMulNBits). A non-QDQ format with a non-.onnx path is an error.
    /// </summary>
    public static void Save(ModelGraph graph, string path, QuantizedOnnxFormat format)
    {
        if (format == QuantizedOnnxFormat.Qdq) { Save(graph, path); return; }
        if (!IsOnnx(path)) throw new CondenseException($"the {format.ToString().ToLowerInvariant()} format is for .onnx files, not {Path.GetFileName(path)}");
        Save(OnnxExporter.Convert(graph, format), path);
    }

    /// <summary>
    /// Saves a weight-shared graph: a .safetensors checkpoint stores the tensors named in <paramref name="codebook"/> as
    /// their codebook and bit-packed indices (so the file really shrinks); an .onnx model holds them as float values.
    /// </summary>
    public static void SaveShared(ModelGraph graph, string path, IReadOnlyCollection<string> codebook)
    {
        if (IsOnnx(path)) Save(graph, path);
        else Checkpoint.Save(graph, path, codebook: codebook);
    }

    /// <summary>Saves a module (traced for samples of <paramref name="sampleShape"/>) in the format the path says.</summary>
    public static void Save(Module model, string path, int[] sampleShape, string? spec = null) =>
        Save(GraphTracer.Trace(model, sampleShape), path, spec);
}
