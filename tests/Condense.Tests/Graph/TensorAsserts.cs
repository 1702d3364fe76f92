// Closeness of two float tensors as the graph-inference tests compare a fused, channels-last or chunked pass with the plain
// one: the same shape, and every value within a tolerance relative to the larger of 1 and the expected tensor's largest magnitude.
using Condense.Tensors;

namespace Condense.Tests.Graph;

internal static class TensorAsserts
{
    public static void Close(Tensor expected, Tensor actual, float relative)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        float scale = Math.Max(1f, expected.Data.Max(Math.Abs));
        for (int i = 0; i < expected.Size; i++)
            Assert.True(Math.Abs(expected.Data[i] - actual.Data[i]) <= relative * scale, $"output {i}: {actual.Data[i]} vs {expected.Data[i]}");
    }
}
