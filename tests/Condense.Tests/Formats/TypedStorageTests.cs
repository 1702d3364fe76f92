// Integer initializers (quantized weights, zero points, int32 biases) are stored in their own dtype,
// densely or sparsely, and come back with their element type.
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Formats;

public sealed class TypedStorageTests : IDisposable
{
    private readonly ScratchDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static GraphModule Model() => new(GraphTracer.Trace(ModelSpec.Parse("mlp:20-16-4").Build(1), [20]));

    private static Tensor Integers(Rng rng, int min, int max, double zeros, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        for (int i = 0; i < t.Size; i++) t.Data[i] = rng.NextDouble() < zeros ? 0 : min + rng.NextInt(max - min + 1);
        return t;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.9)]
    public void IntegerTensorsRoundTripWithTheirTypesAndTakeLessSpace(double zeros)
    {
        var model = Model();
        var rng = new Rng(4);
        var graph = model.Graph;
        graph.Initializers.Add("q.weight", Integers(rng, -128, 127, zeros, 16, 20));
        graph.Initializers.Add("q.zero_point", Integers(rng, 0, 255, 0, 1));
        graph.Initializers.Add("q.bias", Integers(rng, -1_000_000, 1_000_000, 0, 16));
        graph.Initializers.Add("q.int4", Integers(rng, -8, 7, zeros, 5, 7)); // odd count: a half-filled last byte
        graph.ElementTypes["q.weight"] = ElementType.Int8;
        graph.ElementTypes["q.zero_point"] = ElementType.UInt8;
        graph.ElementTypes["q.bias"] = ElementType.Int32;
        graph.ElementTypes["q.int4"] = ElementType.Int4;
        string path = _dir.File("typed.safetensors");
        Checkpoint.Save(graph, path);

        var file = SafeTensors.Read(path);
        long weightBytes = file.Tensors.Where(t => t.Name.StartsWith("q.weight", StringComparison.Ordinal)).Sum(t => (long)t.Data.Length);
        Assert.True(weightBytes <= 16 * 20, $"{weightBytes} bytes for 320 int8 values");
        var loaded = Checkpoint.Load(path).Graph;
        Assert.Equal((35 + 1) / 2, file["q.int4"].Data.Length);
        foreach (var name in new[] { "q.weight", "q.zero_point", "q.bias", "q.int4" })
        {
            Assert.Equal(graph.TypeOf(name), loaded.TypeOf(name));
            Assert.Equal(graph.Initializers[name].Data, loaded.Initializers[name].Data);
        }
        Assert.Equal(ElementType.Float32, loaded.TypeOf("1.weight"));
    }

    [Fact]
    public void ANonIntegerValueInAnIntegerTensorIsRefused()
    {
        var graph = Model().Graph;
        graph.Initializers.Add("q.weight", new Tensor([1f, 2.5f], 2));
        graph.ElementTypes["q.weight"] = ElementType.Int8;
        var e = Assert.Throws<CondenseException>(() => Checkpoint.Save(graph, _dir.File("bad.safetensors")));
        Assert.Contains("q.weight", e.Message);
        graph.Initializers["q.weight"] = new Tensor([1f, 200f], 2);
        Assert.Throws<CondenseException>(() => Checkpoint.Save(graph, _dir.File("bad.safetensors")));
        Assert.False(File.Exists(_dir.File("bad.safetensors")));
    }
}
