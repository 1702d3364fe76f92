// Model files: a save/load round trip is exact, the file is plain safetensors with the graph in its
// metadata, and every way a file can be wrong gives a one-line error naming the file.
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Formats;

public sealed class ModelFileTests : IDisposable
{
    private readonly ScratchDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static Tensor Input(ulong seed, params int[] shape) => Tensor.Uniform(new Rng(seed), -1f, 1f, shape);

    private static InvalidFileException AssertInvalidFile(string path, Action load)
    {
        var e = Assert.Throws<InvalidFileException>(load);
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(Path.GetFileName(path) + ":", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void SaveThenLoadIsExact()
    {
        const string spec = "mlp:31-33-7,dropout=0.25";
        var model = ModelSpec.Parse(spec).Build(seed: 5);
        string path = _dir.File("m.safetensors");
        var saved = Checkpoint.Save(model, path, [31], spec);
        var loaded = Checkpoint.Load(path);

        model.Eval();
        loaded.Eval();
        var x = Input(1, 9, 31);
        Assert.Equal(model.Forward(x).Data, loaded.Forward(x).Data);

        var expected = model.StateDict();
        var actual = loaded.StateDict();
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (name, t) in expected)
        {
            Assert.Equal(t.Shape, actual[name].Shape);
            Assert.Equal(t.Data, actual[name].Data);
        }
        Assert.Equal(saved.Nodes.Select(n => n.OpType), loaded.Graph.Nodes.Select(n => n.OpType));
        Assert.Equal(["input"], loaded.Graph.Inputs.Select(i => i.Name));
        Assert.Equal(["logits"], loaded.Graph.Outputs.Select(o => o.Name));
        Assert.True(loaded.Graph.Trainable.SetEquals(expected.Keys));
    }

    [Fact]
    public void FileIsPlainSafetensorsWithGraphMetadata()
    {
        const string spec = "mlp:13-9-3";
        var model = ModelSpec.Parse(spec).Build();
        string path = _dir.File("m.safetensors");
        Checkpoint.Save(model, path, [13], spec);

        var file = SafeTensors.Read(path);
        Assert.Equal(model.StateDict().Keys.Order(StringComparer.Ordinal), file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.All(file.Tensors, t => Assert.Equal(SafeTensorDType.F32, t.DType));
        foreach (var (name, t) in model.StateDict())
        {
            Assert.Equal(t.Shape, file[name].ShapeAsInt32());
            Assert.Equal(t.Data, file[name].ToFloatTensor().Data);
        }
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(spec, file.Metadata[Checkpoint.SpecKey]);
        Assert.Equal("condense.graph", Checkpoint.GraphKey);
        string graphJson = file.Metadata[Checkpoint.GraphKey];
        Assert.Equal(GraphJson.Serialize(GraphTracer.Trace(model, [13])), graphJson);
    }

    [Fact]
    public void SavingALoadedModelGivesTheSameFileContent()
    {
        var model = ModelSpec.Parse("mlp:7-5-3").Build(seed: 2);
        string a = _dir.File("a.safetensors"), b = _dir.File("b.safetensors");
        Checkpoint.Save(model, a, [7]);
        Checkpoint.Save(Checkpoint.Load(a), b, [7]);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Fact]
    public void FileWithoutGraphMetadataIsRejected()
    {
        string path = _dir.File("weights.safetensors");
        SafeTensors.WriteFloat(path, ModelSpec.Parse("mlp:7-5-3").Build().StateDict(), new Dictionary<string, string> { ["format"] = "pt" });
        var e = AssertInvalidFile(path, () => Checkpoint.Load(path));
        Assert.Contains(Checkpoint.GraphKey, e.Message);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("{}")]
    [InlineData("{\"inputs\":[],\"outputs\":[],\"nodes\":[{\"name\":\"n\"}],\"initializers\":[],\"trainable\":[]}")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[\"a\"]}],\"outputs\":[],\"nodes\":[],\"initializers\":[],\"trainable\":[]}")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2]}],\"outputs\":[{\"name\":\"y\",\"shape\":[-1,2]}],\"nodes\":["
        + "{\"name\":\"n\",\"op\":\"Relu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"],\"attributes\":{\"a\":{}}}],\"initializers\":[],\"trainable\":[]}")]
    public void MalformedGraphJsonIsRejected(string json)
    {
        string path = _dir.File("bad.safetensors");
        SafeTensors.WriteFloat(path, new Dictionary<string, Tensor> { ["w"] = Tensor.Zeros(2) },
            new Dictionary<string, string> { [Checkpoint.GraphKey] = json });
        AssertInvalidFile(path, () => Checkpoint.Load(path));
    }

    [Theory]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2]}],\"outputs\":[{\"name\":\"y\",\"shape\":[-1,2]}],\"nodes\":["
        + "{\"name\":\"n\",\"op\":\"Add\",\"inputs\":[\"x\",\"nowhere\"],\"outputs\":[\"y\"]}],\"initializers\":[],\"trainable\":[]}")]
    [InlineData("{\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2]}],\"outputs\":[{\"name\":\"z\",\"shape\":[-1,2]}],\"nodes\":["
        + "{\"name\":\"n\",\"op\":\"Relu\",\"inputs\":[\"x\"],\"outputs\":[\"y\"]}],\"initializers\":[],\"trainable\":[]}")]
    public void StructurallyInvalidGraphIsRejectedNamingTheFile(string json)
    {
        string path = _dir.File("broken.safetensors");
        SafeTensors.WriteFloat(path, new Dictionary<string, Tensor> { ["w"] = Tensor.Zeros(2) },
            new Dictionary<string, string> { [Checkpoint.GraphKey] = json });
        AssertInvalidFile(path, () => Checkpoint.Load(path));
    }

    [Fact]
    public void FileWithUnsupportedOpIsRejectedNamingFileAndOp()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 1, 8, 8]));
        graph.Initializers.Add("w", Tensor.Zeros(4, 1, 3, 3));
        graph.Trainable.Add("w");
        graph.Nodes.Add(new Node("/roi/GridSample", "GridSample", ["x", "w"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 4, 6, 6]));
        string path = _dir.File("conv.safetensors");
        Checkpoint.Save(graph, path);
        var e = AssertInvalidFile(path, () => Checkpoint.Load(path));
        Assert.Contains("'GridSample'", e.Message);
        Assert.Contains("/roi/GridSample", e.Message);
    }

    [Fact]
    public void FileMissingATensorTheGraphNeedsIsRejected()
    {
        var model = ModelSpec.Parse("mlp:7-5-3").Build();
        string full = _dir.File("full.safetensors");
        Checkpoint.Save(model, full, [7]);
        var file = SafeTensors.Read(full);

        string path = _dir.File("partial.safetensors");
        SafeTensors.Write(path, file.Tensors.Where(t => t.Name != "3.weight"), file.Metadata);
        var e = AssertInvalidFile(path, () => Checkpoint.Load(path));
        Assert.Contains("3.weight", e.Message);
    }

    [Fact]
    public void WeightsThatDoNotFitTheGraphAreRejectedAtLoad()
    {
        var model = ModelSpec.Parse("mlp:7-5-3").Build();
        string full = _dir.File("fits.safetensors");
        Checkpoint.Save(model, full, [7]);
        var file = SafeTensors.Read(full);

        // 3.weight stored as (3 × 4) instead of (3 × 5): the file is valid safetensors, the model is not.
        string path = _dir.File("misfit.safetensors");
        var wrong = file.Tensors.Select(t => t.Name == "3.weight" ? SafeTensorEntry.FromFloat(t.Name, Tensor.Zeros(3, 4)) : t);
        SafeTensors.Write(path, wrong, file.Metadata);
        AssertInvalidFile(path, () => Checkpoint.Load(path));
    }

    [Theory]
    [InlineData("model.onnx")]
    [InlineData("model.pt")]
    [InlineData("model")]
    public void WrongExtensionIsRejected(string name)
    {
        string path = _dir.File(name);
        var model = ModelSpec.Parse("mlp:7-5-3").Build();
        var save = Assert.Throws<CondenseException>(() => Checkpoint.Save(model, path, [7]));
        Assert.Contains(".safetensors", save.Message);
        Assert.False(File.Exists(path));
        File.WriteAllText(path, "x");
        var load = Assert.Throws<CondenseException>(() => Checkpoint.Load(path));
        Assert.Contains(".safetensors", load.Message);
        Assert.DoesNotContain('\n', load.Message);
    }

    [Fact]
    public void LoadingAMissingFileThrowsCondenseException()
    {
        string path = _dir.File("absent.safetensors");
        var e = Assert.Throws<CondenseException>(() => Checkpoint.Load(path));
        Assert.Contains("absent.safetensors", e.Message);
    }

    [Fact]
    public void SavingIntoMissingFolderThrowsAndWritesNothing()
    {
        string folder = _dir.File("no-such-folder");
        string path = Path.Combine(folder, "m.safetensors");
        var e = Assert.Throws<CondenseException>(() => Checkpoint.Save(ModelSpec.Parse("mlp:7-5-3").Build(), path, [7]));
        Assert.Contains("no-such-folder", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(folder));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path));
    }
}

/// <summary>A layer with a buffer (a mask), as pruning will add: y = x · mask.</summary>
internal sealed class MaskedIdentity : Condense.Nn.Module
{
    public MaskedIdentity(int features) => Mask = RegisterBuffer("mask", Tensor.Full(1f, features));
    public Tensor Mask { get; }
    public override Tensor Forward(Tensor input) => input.Mul(Mask);

    static MaskedIdentity() =>
        ModuleTracers.Register<MaskedIdentity>((m, c, x) => c.Node("Mul", [x, c.Buffer("mask", m.Mask)]));
}

public sealed class BufferTests : IDisposable
{
    private readonly ScratchDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void BuffersAreSavedAndLoadedWithTheWeights()
    {
        var masked = new MaskedIdentity(4);
        masked.Mask.Data[1] = 0f;
        var model = new Sequential(new Linear(3, 4, rng: new Rng(2)), masked);
        string path = _dir.File("masked.safetensors");
        Checkpoint.Save(model, path, [3]);

        var loaded = Checkpoint.Load(path);
        var state = loaded.StateDict();
        Assert.Equal([1f, 0f, 1f, 1f], state["1.mask"].Data);
        Assert.DoesNotContain(loaded.NamedParameters(), p => p.Name == "1.mask");
        var x = Tensor.Uniform(new Rng(3), -1f, 1f, 2, 3);
        Assert.Equal(model.Forward(x).Data, loaded.Forward(x).Data);
        Assert.All(new[] { 1, 5 }, i => Assert.Equal(0f, loaded.Forward(x).Data[i]));
    }
}
