// MatMulInteger and ConvInteger (ONNX opset 10, what dynamic QOperator quantization writes): the products of
// (a − a_zero_point) and (b − b_zero_point) summed in int32. The engine holds integers in float32, so it uses the float
// kernels where that is exact: every partial sum of a dot product is an integer of magnitude at most Σ_k |a_k| · max |b|,
// and float32 holds every integer up to 2^24 exactly, so under that bound any summation order (blocking, FMA) gives the
// exact sum. The bound is checked on the actual values; beyond it MatMulInteger runs an int64 loop and ConvInteger
// splits its input channels into groups under the bound and adds their exact sums in double. A result beyond 2^24 is
// then rounded once to float32, as the engine holds every int32.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    private const double ExactInFloat = 1 << 24;

    // Y = (A − a_zp) · (B − b_zp): a_zp per tensor or per row of A, b_zp per tensor or per column (B's last axis).
    internal static Tensor MatMulInteger(Node node, Tensor?[] inputs)
    {
        var a = Required(node, inputs, 0);
        var b = Required(node, inputs, 1);
        if (a.Rank < 2 || b.Rank < 2) throw new CondenseException($"node '{node.Name}' (MatMulInteger): A and B must have rank 2 or more");
        int k = a.Shape[^1], n = b.Shape[^1], rows = a.Size / Math.Max(1, k);
        var left = Shifted(node, a, Optional(inputs, 2), i => i / k, rows, "a_zero_point");
        var right = Shifted(node, b, Optional(inputs, 3), i => i % n, n, "b_zero_point");
        double largestRow = 0;
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.Abs(left[r * k + j]);
            largestRow = Math.Max(largestRow, sum);
        }
        double largestB = right.Length == 0 ? 0 : right.Max(v => Math.Abs(v));
        if (largestRow * largestB <= ExactInFloat) return new Tensor(left, a.Shape).MatMul(new Tensor(right, b.Shape));
        if (b.Rank != 2 || b.Shape[0] != k)
            throw new CondenseException($"node '{node.Name}' (MatMulInteger): sums beyond 2^24 are computed exactly for a 2-D B of {k} rows only");
        var y = new float[rows * n];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                long sum = 0;
                for (int t = 0; t < k; t++) sum += (long)left[r * k + t] * (long)right[t * n + j];
                y[r * n + j] = sum;
            }
        return new Tensor(y, [.. a.Shape[..^1], n]);
    }

    // Y = Conv(x − x_zp, w − w_zp) with the Conv attributes; x_zp per tensor, w_zp per tensor or per output channel.
    internal static Tensor ConvInteger(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        var w = Required(node, inputs, 1);
        if (x.Rank < 3 || w.Rank != x.Rank) throw new CondenseException($"node '{node.Name}' (ConvInteger): x and w must be (N, C, …) and (M, C/group, …)");
        int taps = w.Size / w.Shape[0], channels = x.Shape[1], image = x.Size / Math.Max(1, x.Shape[0] * channels);
        var input = new Tensor(Shifted(node, x, Optional(inputs, 2), _ => 0, 1, "x_zero_point"), x.Shape);
        var weight = new Tensor(Shifted(node, w, Optional(inputs, 3), i => i / taps, w.Shape[0], "w_zero_point"), w.Shape);
        double largestProduct = (input.Size == 0 ? 0 : input.Data.Max(v => Math.Abs(v))) * (weight.Size == 0 ? 0 : weight.Data.Max(v => Math.Abs(v)));
        if (taps * largestProduct <= ExactInFloat) return Conv(node, [input, weight]);
        if (node.Int("group", 1) != 1)
            throw new CondenseException($"node '{node.Name}' (ConvInteger): sums beyond 2^24 are computed exactly for group = 1 only");
        // Input channels in groups whose sums stay under 2^24: each group's convolution is exact, their sum is taken in double.
        int perChannel = taps / channels, step = Math.Max(1, (int)(ExactInFloat / (perChannel * largestProduct)));
        double[]? total = null;
        int[] shape = [];
        for (int c = 0; c < channels; c += step)
        {
            int end = Math.Min(channels, c + step);
            var part = Conv(node, [Channels(input, c, end, image), Channels(weight, c, end, perChannel)]);
            total ??= new double[part.Size];
            shape = part.Shape;
            for (int i = 0; i < total.Length; i++) total[i] += part.Data[i];
        }
        return new Tensor(total!.Select(v => (float)v).ToArray(), shape);
    }

    // t − zero point, the zero point per tensor (one value) or indexed by channelOf(element) over `channels` values.
    private static float[] Shifted(Node node, Tensor t, Tensor? zeroPoint, Func<int, int> channelOf, int channels, string what)
    {
        var values = (float[])t.Data.Clone();
        if (zeroPoint is null) return values;
        if (zeroPoint.Size != 1 && zeroPoint.Size != channels)
            throw new CondenseException($"node '{node.Name}' ({node.OpType}): {what} has {zeroPoint.Size} values; expected 1 or {channels}");
        for (int i = 0; i < values.Length; i++) values[i] -= zeroPoint.Data[zeroPoint.Size == 1 ? 0 : channelOf(i)];
        return values;
    }

    // Channels [from, to) of a (N, C, …) tensor whose channels hold `inner` values each.
    private static Tensor Channels(Tensor t, int from, int to, int inner)
    {
        int outer = t.Shape[0], channels = t.Shape[1], count = to - from;
        var data = new float[outer * count * inner];
        for (int o = 0; o < outer; o++)
            Array.Copy(t.Data, (o * channels + from) * inner, data, o * count * inner, count * inner);
        var shape = (int[])t.Shape.Clone();
        shape[1] = count;
        return new Tensor(data, shape);
    }
}
