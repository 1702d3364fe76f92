// Text that travels with a model (a text encoder's vocabulary) survives saving and loading in both formats: ONNX
// metadata_props and the checkpoint's graph JSON; passes that copy the graph keep it.
using Condense.Formats;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Formats;

public sealed class ModelMetadataTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-metadata").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("model.onnx")]
    [InlineData("model.safetensors")]
    public void MetadataSurvivesSaveAndLoad(string file)
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 4]));
        graph.Initializers["w"] = Tensor.Uniform(new Rng(1), -1, 1, 3, 4);
        graph.Trainable.Add("w");
        graph.Nodes.Add(new Node("linear", OpTypes.Gemm, ["x", "w"], ["y"], new Dictionary<string, AttributeValue> { ["transB"] = AttributeValue.Int(1) }));
        graph.Outputs.Add(new ValueInfo("y", [-1, 3]));
        graph.Metadata["condense.vocabulary"] = "[PAD]\n[UNK]\nhéllo\n";
        graph.Metadata["author"] = "tests";
        string path = Path.Combine(_dir, file);
        ModelFile.Save(graph.Clone(), path);
        var loaded = ModelFile.Load(path).Graph;
        Assert.Equal("[PAD]\n[UNK]\nhéllo\n", loaded.Metadata["condense.vocabulary"]);
        Assert.Equal("tests", loaded.Metadata["author"]);
    }
}
