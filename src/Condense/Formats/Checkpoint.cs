// Saving and loading models. A checkpoint is a safetensors file: the parameters and buffers under
// their state-dict names (so PyTorch and Hugging Face tools read the weights), and the graph's
// structure as JSON in the metadata (so Condense can rebuild any model from the file alone).
// Mostly-zero tensors (pruned weights) are stored in a sparse form when that is smaller (SparseStorage).
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Formats;

/// <summary>Reads and writes model files.</summary>
public static class Checkpoint
{
    /// <summary>Metadata key holding the graph JSON.</summary>
    public const string GraphKey = "condense.graph";

    /// <summary>Metadata key holding the model spec, when the model was built from one.</summary>
    public const string SpecKey = "condense.spec";

    /// <summary>
    /// Saves <paramref name="model"/> (traced for samples of <paramref name="sampleShape"/>) to a
    /// .safetensors file, atomically. Returns the graph that was saved.
    /// </summary>
    public static ModelGraph Save(Module model, string path, int[] sampleShape, string? spec = null)
    {
        var graph = GraphTracer.Trace(model, sampleShape);
        Save(graph, path, spec);
        return graph;
    }

    /// <summary>
    /// Saves a graph and its initializers to a .safetensors file, atomically. Initializers named in
    /// <paramref name="codebook"/> (weight-shared tensors) are stored as a codebook plus bit-packed indices when smaller.
    /// </summary>
    public static void Save(ModelGraph graph, string path, string? spec = null, IReadOnlyCollection<string>? codebook = null)
    {
        CheckExtension(path);
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["producer"] = "condense " + typeof(Checkpoint).Assembly.GetName().Version?.ToString(3),
            [GraphKey] = GraphJson.Serialize(graph),
        };
        if (spec is not null) metadata[SpecKey] = spec;
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new CondenseException($"output folder {dir} does not exist");
        var (entries, storage) = SparseStorage.Encode(graph.Initializers, graph.ElementTypes, codebook);
        foreach (var (key, value) in storage) metadata[key] = value;
        SafeTensors.Write(path, entries, metadata);
    }

    /// <summary>Loads a model saved by <see cref="Save(Module, string, int[], string?)"/> as an executable graph module.</summary>
    public static GraphModule Load(string path)
    {
        CheckIsFile(path);
        CheckExtension(path);
        if (!File.Exists(path)) throw new CondenseException($"model file {path} does not exist");
        var file = SafeTensors.Read(path);
        if (!file.Metadata.TryGetValue(GraphKey, out var json))
            throw new InvalidFileException(path, $"no '{GraphKey}' metadata: not a Condense model (the file holds weights only)");
        var graph = GraphJson.Deserialize(json, SparseStorage.Decode(file), path);
        try
        {
            foreach (var (name, type) in SparseStorage.Types(file))
                if (type != ElementType.Float32 && graph.Initializers.ContainsKey(name)) graph.ElementTypes[name] = type;
            var model = new GraphModule(graph);
            DryRun(model);
            return model;
        }
        catch (Exception e) when (e is CondenseException or ArgumentException or IndexOutOfRangeException && e is not InvalidFileException)
        {
            // An op the engine cannot run, a graph with several inputs, weights whose shapes do not fit
            // the graph: say which file holds it.
            throw new InvalidFileException(path, e.Message.ReplaceLineEndings(" "));
        }
    }

    /// <summary>The largest sample the load-time dry run feeds (2^22 elements, 16 MiB); a larger input is not dry-run.</summary>
    internal const long MaxDryRunElements = 1L << 22;

    // One zero sample through the graph, so a file whose weights do not fit its graph fails at load
    // time, naming the file, rather than at the first real forward pass. A graph of several inputs gets one
    // zero sample in each, by name. The input shapes come from the file, so huge ones are skipped, not allocated.
    // Convolution weights are not packed for the dry run's batch size (ConvWeightPacking.Suspended): the first real
    // call packs them for the batch size it has.
    internal static void DryRun(GraphModule model)
    {
        if (DryRunSample(model) is not { } sample) return;
        model.Eval();
        using var noGrad = Autograd.GradMode.NoGrad();
        using var unpacked = ConvWeightPacking.Suspended();
        model.RunOutputs(sample);
    }

    /// <summary>The zero sample of a dry run, or null when the model's inputs are too large for one or have no sample.</summary>
    internal static Dictionary<string, Tensors.Tensor>? DryRunSample(GraphModule model)
    {
        bool huge = model.Graph.Inputs.Any(i => i.Shape.Aggregate(1L, (n, d) => Math.Min(n * Math.Max(d, 1), MaxDryRunElements + 1)) > MaxDryRunElements);
        return huge ? null : model.ZeroSample();
    }

    /// <summary>A one-line error when <paramref name="path"/> names a folder, or ends in a separator, rather than a file.</summary>
    internal static void CheckIsFile(string path)
    {
        if (Directory.Exists(path)) throw new CondenseException($"{path} is a folder, not a model file");
        if (path.EndsWith('/') || path.EndsWith(Path.DirectorySeparatorChar))
            throw new CondenseException($"{path} is not a file (a path ending in '{path[^1]}' names a folder)");
    }

    internal static void CheckExtension(string path)
    {
        if (!path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new CondenseException($"{Path.GetFileName(path)}: unsupported model format '{Path.GetExtension(path)}' (supported: .safetensors, .onnx)");
    }
}
