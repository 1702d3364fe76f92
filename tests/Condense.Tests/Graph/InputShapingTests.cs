// How a graph's input takes what it is fed: a data set's samples in their own shape reach an image model of free height
// and width, and a flat input of free width takes images flattened (GraphTests has the fixed-shape cases).
using Condense.Data;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Graph;

public sealed class InputShapingTests
{
    private static Tensor Input(ulong seed, params int[] shape) => Tensor.Uniform(new Rng(seed), -1f, 1f, shape);

    [Fact]
    public void GraphModuleFlattensImagesForAFlatInputOfFreeWidth()
    {
        // x (N, F) with F free → Relu: images (N, 1, 3, 5) arrive as rows of 15, in order.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, -1]));
        graph.Nodes.Add(new Node("/Relu", "Relu", ["x"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, -1]));
        var image = Input(5, 2, 1, 3, 5);
        var values = new GraphModule(graph).Run(image);
        Assert.Equal([2, 15], values["x"].Shape);
        Assert.Equal(image.Data, values["x"].Data);
    }

    [Fact]
    public void ADataSetFeedsItsSamplesInTheirShapeToAnInputOfFreeSize()
    {
        // An image model of any height and width (N, 1, H, W) cannot know the shape of flat rows; the data set's samples carry it.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 1, -1, -1]));
        graph.Nodes.Add(new Node("/Flatten", "Flatten", ["x"], ["y"], new Dictionary<string, AttributeValue> { ["axis"] = AttributeValue.Int(1) }));
        graph.Outputs.Add(new ValueInfo("y", [-1, -1]));
        var module = new GraphModule(graph);
        var data = new Dataset(Input(6, 3, 1, 2, 4).Data, null, [1, 2, 4]);
        Assert.Throws<CondenseException>(() => module.Run(data.Batch([0, 2])));
        var values = module.Run(data.Samples([0, 2]));
        Assert.Equal([2, 1, 2, 4], values["x"].Shape);
        Assert.Equal([.. data.Features[..8], .. data.Features[16..24]], values["y"].Data);
        var fed = Assert.Single(data.Feeds("x", 8));
        Assert.Equal([3, 1, 2, 4], fed["x"].Shape);
    }

    [Fact]
    public void ASampleOfTheDeclaredSizeTakesTheDeclaredShape()
    {
        // A model of (N, 28, 28) inputs (a sequence model on MNIST rows) fed MNIST's (N, 1, 28, 28) samples.
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 28, 28]));
        graph.Nodes.Add(new Node("/Relu", "Relu", ["x"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 28, 28]));
        var data = new Dataset(Input(7, 2, 1, 28, 28).Data, null, [1, 28, 28]);
        var values = new GraphModule(graph).Run(data.Samples([1, 0]));
        Assert.Equal([2, 28, 28], values["x"].Shape);
        Assert.Equal([.. data.Features[784..], .. data.Features[..784]], values["x"].Data);
        Assert.Throws<CondenseException>(() => new GraphModule(graph).Run(Input(8, 2, 1, 27, 28)));
    }
}
