// ONNX QuantizeLinear/DequantizeLinear semantics on hand-computed values, per tensor and per axis,
// and the straight-through gradient of DQ(Q(x)).
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Autograd;

public class QuantizeLinearTests
{
    [Fact]
    public void RoundsHalfToEvenAddsTheZeroPointAndSaturates()
    {
        // x / 0.5: 0.5 → 0, 1.5 → 2, 2.5 → 2, −0.5 → −0, −2.5 → −2, then + 10, clamped to [0, 255].
        var x = new Tensor([0.25f, 0.75f, 1.25f, -0.25f, -1.25f, 1000f, -1000f], 7);
        var q = x.QuantizeLinear(Tensor.Scalar(0.5f), Tensor.Scalar(10f), axis: 1, qmin: 0, qmax: 255);
        Assert.Equal([10f, 12f, 12f, 10f, 8f, 255f, 0f], q.Data);
        var dq = q.DequantizeLinear(Tensor.Scalar(0.5f), Tensor.Scalar(10f), axis: 1);
        Assert.Equal([0f, 1f, 1f, 0f, -1f, 122.5f, -5f], dq.Data);
    }

    [Fact]
    public void PerAxisUsesOneScaleAndZeroPointPerSlice()
    {
        // Rows of a (2 × 3) weight along axis 0: scales 0.1 and 1, zero points 0 and −3, int8.
        var w = new Tensor([0.1f, -0.26f, 20f, 1f, -1.5f, 200f], 2, 3);
        var q = w.QuantizeLinear(new Tensor([0.1f, 1f], 2), new Tensor([0f, -3f], 2), axis: 0, qmin: -128, qmax: 127);
        Assert.Equal([1f, -3f, 127f, -2f, -5f, 127f], q.Data);
        var scaleError = Assert.Throws<CondenseException>(() => w.QuantizeLinear(new Tensor([0.1f, 1f, 1f], 3), null, axis: 0, -128, 127));
        Assert.Contains("needs 2 scales, got 3", scaleError.Message);
    }

    [Fact]
    public void DequantizeOfQuantizeHasTheStraightThroughGradient()
    {
        var x = new Tensor([0.3f, -0.7f, 5f, -5f, 1.1f], 5) { RequiresGrad = true };
        var scale = Tensor.Scalar(0.02f);
        var y = x.QuantizeLinear(scale, Tensor.Scalar(0f), 1, -128, 127).DequantizeLinear(scale, Tensor.Scalar(0f), 1);
        y.Mul(new Tensor([1f, 2f, 3f, 4f, 5f], 5)).Sum().Backward();
        // Representable range [−2.56, 2.54]: ±5 are clipped (gradient 0), the rest pass through.
        var g = x.Grad!.Data;
        Assert.Equal(1f, g[0], 5); Assert.Equal(2f, g[1], 5); Assert.Equal(0f, g[2]); Assert.Equal(0f, g[3]); Assert.Equal(5f, g[4], 5);
    }

    [Fact]
    public void TheGraphOpTakesItsRangeFromTheZeroPointType()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("input", [-1, 3]));
        graph.Initializers.Add("s", Tensor.Scalar(1f));
        graph.Initializers.Add("z8", Tensor.Scalar(0f));
        graph.ElementTypes["z8"] = ElementType.Int8;
        graph.Nodes.Add(new Node("q", "QuantizeLinear", ["input", "s", "z8"], ["logits"]));
        graph.Outputs.Add(new ValueInfo("logits", [-1, 3]));
        var signed = new GraphModule(graph).Forward(new Tensor([-300f, 3f, 300f], 1, 3));
        Assert.Equal([-128f, 3f, 127f], signed.Data);

        graph.Nodes[0].Inputs.RemoveAt(2); // no zero point: uint8
        var unsigned = new GraphModule(graph).Forward(new Tensor([-300f, 3f, 300f], 1, 3));
        Assert.Equal([0f, 3f, 255f], unsigned.Data);
    }
}
