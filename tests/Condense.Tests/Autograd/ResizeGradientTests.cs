// Finite-difference checks of Resize's float32 gradient (the transposed resampling map) for linear, cubic and nearest
// resizing, up and down, and of tf_crop_and_resize where extrapolated positions take no gradient.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Autograd;

public class ResizeGradientTests
{
    private static readonly OpContext Context = new(Training: true, new Rng(1));

    [Theory]
    [InlineData("linear", "half_pixel", 1.5f, 0.75f)]
    [InlineData("cubic", "align_corners", 0.6f, 2f)]
    [InlineData("nearest", "asymmetric", 2f, 0.5f)]
    [InlineData("linear", "tf_crop_and_resize", 1.5f, 1.25f)]
    public void ResizeGradientMatchesFiniteDifferences(string mode, string transform, float scaleH, float scaleW)
    {
        var node = new Node("r", OpTypes.Resize, ["x", "roi", "scales"], ["y"], new Dictionary<string, AttributeValue>
        {
            ["mode"] = AttributeValue.String(mode), ["coordinate_transformation_mode"] = AttributeValue.String(transform),
            ["extrapolation_value"] = AttributeValue.Float(-2f),
        });
        var roi = new Tensor([0, 0, -0.2f, 0.1f, 1, 1, 0.9f, 1.2f], 8);
        var scales = new Tensor([1, 1, scaleH, scaleW], 4);
        GradCheck.Check(x => GraphOps.Run(node, [x[0], roi, scales], Context)[0], [GradCheck.Random(51, 2, 2, 5, 4)], eps: 1e-3f);
    }
}
