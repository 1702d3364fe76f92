// The calibration-driven weight methods against independent oracles: GPTQ against the paper's algorithm written plainly
// (one column at a time, H⁻¹ updated by Gaussian elimination), and below round-to-nearest on correlated inputs; AWQ
// below round-to-nearest on a layer with an outlier input channel; SmoothQuant's scales by hand and its smoothed float
// layer equal to the original.
using Condense.Calibration;
using Condense.Graph;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Quantization;

public class GptqAwqSmoothQuantTests
{
    private static readonly QuantRange Int4 = QuantRange.Restricted(4);

    // Correlated inputs: Z [n, in] mixed by a random matrix, so H is far from diagonal.
    private static Tensor Correlated(int n, int inputs, ulong seed) =>
        Tensor.Uniform(new Rng(seed), -1, 1, n, inputs).MatMul(Tensor.Uniform(new Rng(seed + 1), -1, 1, inputs, inputs));

    private static double OutputError(Tensor x, Tensor weight, Tensor integers, Tensor scales, int blockSize)
    {
        int rows = weight.Shape[0], cols = weight.Shape[1];
        var dequantized = new Tensor([.. integers.Data.Select((q, k) => q * scales.Data[k / cols * scales.Shape[1] + k % cols / blockSize])], rows, cols);
        var a = x.MatMul(weight.Transpose()).Data;
        var b = x.MatMul(dequantized.Transpose()).Data;
        return a.Zip(b).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second));
    }

    // Algorithm 1 of the paper with the inverse Hessian kept explicitly: quantize column q, spread its error with
    // H⁻¹[q, j] / H⁻¹[q, q], then remove q from H⁻¹ (H⁻¹ −= H⁻¹[:, q] H⁻¹[q, :] / H⁻¹[q, q]).
    private static float[] NaiveGptq(Tensor weight, double[] h, int blockSize, out float[] scales)
    {
        int rows = weight.Shape[0], cols = weight.Shape[1], blocks = (cols + blockSize - 1) / blockSize;
        double damp = 0.01 * Enumerable.Range(0, cols).Average(i => h[i * cols + i]);
        var a = (double[])h.Clone();
        for (int i = 0; i < cols; i++) a[i * cols + i] += damp;
        var inv = Invert(a, cols);
        var w = weight.Data.Select(v => (double)v).ToArray();
        var q = new float[rows * cols];
        scales = new float[rows * blocks];
        for (int c = 0; c < cols; c++)
        {
            for (int r = 0; r < rows; r++)
            {
                if (c % blockSize == 0)
                {
                    double max = Enumerable.Range(c, Math.Min(blockSize, cols - c)).Max(k => Math.Abs(w[r * cols + k]));
                    scales[r * blocks + c / blockSize] = Math.Max((float)(max / 7), QuantParams.MinScale);
                }
                float s = scales[r * blocks + c / blockSize];
                double v = Math.Clamp(Math.Round(w[r * cols + c] / s, MidpointRounding.ToEven), -7, 7);
                q[r * cols + c] = (float)v;
                double err = (w[r * cols + c] - v * s) / inv[c * cols + c];
                for (int j = c + 1; j < cols; j++) w[r * cols + j] -= err * inv[c * cols + j];
            }
            double pivot = inv[c * cols + c];
            var column = Enumerable.Range(0, cols).Select(i => inv[i * cols + c]).ToArray();
            var row = Enumerable.Range(0, cols).Select(j => inv[c * cols + j]).ToArray();
            for (int i = 0; i < cols; i++) for (int j = 0; j < cols; j++) inv[i * cols + j] -= column[i] * row[j] / pivot;
        }
        return q;
    }

    private static double[] Invert(double[] a, int n)
    {
        var m = (double[])a.Clone();
        var inv = new double[n * n];
        for (int i = 0; i < n; i++) inv[i * n + i] = 1;
        for (int c = 0; c < n; c++)
        {
            double p = m[c * n + c];
            for (int j = 0; j < n; j++) { m[c * n + j] /= p; inv[c * n + j] /= p; }
            for (int r = 0; r < n; r++)
            {
                if (r == c) continue;
                double f = m[r * n + c];
                for (int j = 0; j < n; j++) { m[r * n + j] -= f * m[c * n + j]; inv[r * n + j] -= f * inv[c * n + j]; }
            }
        }
        return inv;
    }

    [Fact]
    public void GptqMatchesThePapersAlgorithmAndBeatsRoundToNearest()
    {
        var weight = Tensor.Uniform(new Rng(11), -1, 1, 16, 24);
        var x = Correlated(200, 24, 12);
        var hessian = new InputHessian(24);
        hessian.Add(x);
        var (integers, scales) = Gptq.Quantize(weight, hessian, 8, Int4);
        var expected = NaiveGptq(weight, hessian.ToMatrix(), 8, out var expectedScales);
        int differing = integers.Data.Zip(expected).Count(p => p.First != p.Second);
        Assert.True(differing <= 2, $"{differing} of {expected.Length} integers differ from the paper's algorithm");
        for (int i = 0; i < expectedScales.Length; i++) Assert.Equal(expectedScales[i], scales.Data[i], 4);

        var (rtnIntegers, rtnScales) = BlockwiseQuantizer.Quantize(weight, 8, Int4);
        double gptq = OutputError(x, weight, integers, scales, 8), rtn = OutputError(x, weight, rtnIntegers, rtnScales, 8);
        Assert.True(gptq < 0.8 * rtn, $"GPTQ's output error {gptq:G4} is not well below round-to-nearest's {rtn:G4}");
    }

    [Fact]
    public void GptqZeroesDeadInputsAndRefusesAMismatchedHessian()
    {
        var x = Tensor.Uniform(new Rng(13), -1, 1, 50, 8);
        for (int r = 0; r < 50; r++) x.Data[r * 8 + 3] = 0;
        var hessian = new InputHessian(8);
        hessian.Add(x);
        var (integers, _) = Gptq.Quantize(Tensor.Uniform(new Rng(14), -1, 1, 4, 8), hessian, 8, Int4);
        for (int r = 0; r < 4; r++) Assert.Equal(0f, integers.Data[r * 8 + 3]);
        Assert.Throws<CondenseException>(() => Gptq.Quantize(Tensor.Uniform(new Rng(15), -1, 1, 4, 9), hessian, 8, Int4));
        Assert.Throws<CondenseException>(() => hessian.Add(Tensor.Uniform(new Rng(16), -1, 1, 3, 7)));
    }

    [Fact]
    public void AwqBeatsRoundToNearestOnAnOutlierChannelAndItsScalesFoldBackExactly()
    {
        var weight = Tensor.Uniform(new Rng(21), -1, 1, 32, 64);
        var x = Tensor.Uniform(new Rng(22), -1, 1, 256, 64);
        for (int r = 0; r < 256; r++) x.Data[r * 64 + 5] *= 50;
        var meanAbs = Enumerable.Range(0, 64).Select(j => Enumerable.Range(0, 256).Average(r => (double)Math.Abs(x.Data[r * 64 + j]))).ToArray();
        var (alpha, s) = Awq.Search(weight, meanAbs, x, 32, Int4);
        Assert.True(alpha > 0, "AWQ kept plain rounding on an outlier channel");

        var scaled = new Tensor([.. weight.Data.Select((v, k) => (float)(v * s[k % 64]))], 32, 64);
        var xs = new Tensor([.. x.Data.Select((v, k) => (float)(v / s[k % 64]))], 256, 64);
        var (q, scales) = BlockwiseQuantizer.Quantize(scaled, 32, Int4);
        var (rtnQ, rtnScales) = BlockwiseQuantizer.Quantize(weight, 32, Int4);
        double awq = OutputError(xs, scaled, q, scales, 32), rtn = OutputError(x, weight, rtnQ, rtnScales, 32);
        Assert.True(awq < rtn, $"AWQ's output error {awq:G4} is not below round-to-nearest's {rtn:G4}");
        // In float the scales cancel: (X ⊘ s)(W diag(s))ᵀ = X Wᵀ.
        var folded = xs.MatMul(scaled.Transpose()).Data;
        var original = x.MatMul(weight.Transpose()).Data;
        for (int i = 0; i < original.Length; i++)
            Assert.True(Math.Abs(original[i] - folded[i]) <= 1e-4 * (1 + Math.Abs(original[i])), $"{folded[i]} vs {original[i]}");
    }

    [Fact]
    public void SmoothQuantScalesAreThePapersAndTheSmoothedModelIsUnchanged()
    {
        var s = SmoothQuant.Scales([4, 1, 0], [1, 4, 2], 0.5);
        Assert.Equal([2, 0.5, 1], s);   // √4/√1, √1/√4, and a dead channel keeps 1

        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [-1, 6]));
        graph.Initializers["w"] = Tensor.Uniform(new Rng(31), -1, 1, 6, 3);
        graph.Trainable.Add("w");
        graph.Nodes.Add(new Node("matmul", OpTypes.MatMul, ["x", "w"], ["y"]));
        graph.Outputs.Add(new ValueInfo("y", [-1, 3]));
        var x = Tensor.Uniform(new Rng(32), -1, 1, 20, 6);
        for (int r = 0; r < 20; r++) x.Data[r * 6 + 2] *= 30;
        var before = new GraphModule(graph.Clone()).Run(x)["y"].Data;
        var smoothed = graph.Clone();
        var channelMax = Enumerable.Range(0, 6).Select(j => Enumerable.Range(0, 20).Max(r => (double)Math.Abs(x.Data[r * 6 + j]))).ToList();
        var scales = SmoothQuant.Scales(channelMax, SmoothQuant.WeightMax(graph.Initializers["w"].Transpose()), 0.5);
        InputScaling.Apply(smoothed, smoothed.Nodes[0], scales, outputAxis: 1);
        var after = new GraphModule(smoothed).Run(x)["y"].Data;
        for (int i = 0; i < before.Length; i++) Assert.Equal(before[i], after[i], 4);
        // The outlier channel's activations shrink: the per-tensor activation range is flatter.
        Assert.True(scales[2] > 3 * scales.Where((_, j) => j != 2).Max());
    }
}
