// The parts of all-MiniLM-L6-v2 against its architecture's arithmetic: 6 layers of hidden size 384 and feed-forward
// size 1536, a 30,522-word vocabulary, 512 positions, 2 token types, 13 layer norms and a 384 × 384 pooler.
using Condense.Graph;
using Condense.Onnx;
using Condense.Reports;

namespace Condense.Tests.Pretrained;

public class TransformerPartsTests
{
    [Fact]
    public void MiniLmPartsMatchItsArchitecture()
    {
        var parts = TransformerParts.Of(new GraphModule(OnnxImporter.Import(PretrainedModels.MiniLmOnnx)));
        Assert.NotNull(parts);
        const long d = 384, f = 1536, layers = 6;
        Assert.Equal(384, parts.HiddenSize);
        Assert.Equal((30522 + 512 + 2) * d, parts.Embeddings);
        // Q, K, V and the output projection per layer, and the pooler (a d × d projection too).
        Assert.Equal(layers * 4 * (d * d + d) + (d * d + d), parts.Attention);
        Assert.Equal(layers * (d * f + f + f * d + d), parts.FeedForward);
        Assert.Equal((2 * layers + 1) * 2 * d, parts.Other);
    }

    [Fact]
    public void AModelWithoutEmbeddingsIsNotATransformer()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 4]));
        graph.Initializers["w"] = new Condense.Tensors.Tensor(new float[12], 4, 3);
        graph.Nodes.Add(new Node("m", OpTypes.MatMul, ["x", "w"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 3]));
        Assert.Null(TransformerParts.Of(new GraphModule(graph)));
    }
}
