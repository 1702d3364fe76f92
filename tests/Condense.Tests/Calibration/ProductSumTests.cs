// The streamed Σ xᵀy behind GPTQ's, SparseGPT's and the structured refits' Hessians, against a plain double loop: rows
// handed over a few at a time (one short passage per call, as calibration does), in batches that cross the 512-row chunk,
// and a symmetric width that spans several 256-column blocks with a ragged last one.
using Condense.Calibration;
using Condense.Tensors;
using Condense.Tests.Quantization;

namespace Condense.Tests.Calibration;

public sealed class ProductSumTests
{
    [Theory]
    [InlineData(37, 37, true, new[] { 3, 30, 700, 1, 511, 512, 40 })]
    [InlineData(600, 600, true, new[] { 25, 17, 530, 44, 9 })]
    [InlineData(300, 70, false, new[] { 520, 11, 1030, 2 })]
    public void StreamedSumMatchesADoubleLoop(int inputs, int outputs, bool symmetric, int[] batches)
    {
        int total = batches.Sum();
        var x = QuantizationTestData.Normal(total * inputs, 3);
        var y = symmetric ? x : QuantizationTestData.Normal(total * outputs, 4);
        var sum = new ProductSum(inputs, symmetric ? inputs : outputs, symmetric);
        int done = 0;
        foreach (int rows in batches)
        {
            sum.Add(x.AsSpan(done * inputs, rows * inputs), symmetric ? default : y.AsSpan(done * outputs, rows * outputs), rows);
            done += rows;
        }
        var result = sum.Sum();
        for (int i = 0; i < inputs; i++)
            for (int j = 0; j < (symmetric ? i + 1 : outputs); j++)
            {
                double expected = 0, magnitude = 0;
                for (int r = 0; r < total; r++)
                {
                    double p = (double)x[r * inputs + i] * y[r * outputs + j];
                    expected += p;
                    magnitude += Math.Abs(p);
                }
                // float32 sums of at most 512 products, then double: within a few float roundings of Σ|x·y|.
                Assert.True(Math.Abs(result[i * outputs + j] - expected) <= 1e-5 * magnitude, $"({i}, {j}): {result[i * outputs + j]} vs {expected}");
            }
    }

    [Fact]
    public void HessianOfPassagesGivenOneAtATimeEqualsTheHessianOfOneBatch()
    {
        const int width = 300;
        var rows = QuantizationTestData.Normal(900 * width, 9);
        var whole = new InputHessian(width);
        whole.Add(new Tensor(rows, 900, width));
        var streamed = new InputHessian(width);
        for (int start = 0; start < 900; start += 45) streamed.Add(new Tensor(rows.AsSpan(start * width, 45 * width).ToArray(), 1, 45, width));
        Assert.Equal(900, streamed.Samples);
        Assert.Equal(whole.Mean(), streamed.Mean());
        var a = whole.ToMatrix();
        var b = streamed.ToMatrix();
        // The same rows in the same 512-row chunks: the same float GEMMs, bit for bit.
        Assert.Equal(a, b);
        for (int i = 0; i < width; i++)
            for (int j = 0; j < width; j++) Assert.Equal(a[i * width + j], a[j * width + i]);
    }
}
