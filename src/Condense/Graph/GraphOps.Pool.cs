// The ONNX pooling and normalisation ops: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool and
// BatchNormalization (https://onnx.ai/onnx/operators/). Pooling reads kernel_shape, strides, pads
// ([begin…, end…]), dilations, ceil_mode, count_include_pad and auto_pad; 1-D pooling runs as 2-D over a
// height of 1; 3-D pooling and dilated AveragePool run on the N-D kernels (GraphOps.PoolNd.cs).
// BatchNormalization trains inside a GraphModule: see BatchNormalization.
using Condense.Kernels.Normalization;
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    internal static Tensor[] MaxPool(Node node, Tensor?[] inputs)
    {
        if (Required(node, inputs, 0).Rank == 5) return MaxPoolNd(node, inputs[0]!);
        var (x, window, restore) = PoolInput(node, Required(node, inputs, 0), allowDilation: true);
        if (node.Outputs.Count < 2) return [restore(x.MaxPool2d(window))];
        var (y, argmax) = x.MaxPool2dWithIndices(window);
        // ONNX Indices flatten over the whole input tensor: plane · H·W + h·W + w, or + w·H + h with
        // storage_order 1 (column-major). A 1-D input has H = 1 here, so both orders give its position.
        bool columnMajor = node.Int("storage_order", 0) != 0;
        int height = x.Shape[2], width = x.Shape[3], planeOut = y.Shape[2] * y.Shape[3];
        var indices = new long[argmax.Length];
        for (int i = 0; i < argmax.Length; i++)
        {
            int a = argmax[i], within = columnMajor ? a % width * height + a / width : a;
            indices[i] = (long)(i / planeOut) * height * width + within;
        }
        return [restore(y), restore(Tensor.FromInt64s(indices, DataType.Int64, y.Shape))];
    }

    internal static Tensor AveragePool(Node node, Tensor?[] inputs)
    {
        if (Required(node, inputs, 0).Rank == 5 || Ints(node, "dilations") is { } d && d.Any(v => v != 1))
            return AveragePoolNd(node, inputs[0]!);
        var (x, window, restore) = PoolInput(node, Required(node, inputs, 0), allowDilation: false);
        return restore(x.AvgPool2d(window, node.Int("count_include_pad", 0) != 0));
    }

    // The input as (N, C, H, W), the window from the attributes, and how to give the output the input's rank.
    private static (Tensor X, PoolWindow Window, Func<Tensor, Tensor> Restore) PoolInput(Node node, Tensor x, bool allowDilation)
    {
        int spatial = x.Rank - 2;
        if (spatial is not (1 or 2))
            throw new CondenseException(
                $"node '{node.Name}' ({node.OpType}): only 1-D, 2-D and 3-D pooling are supported, got input shape {Shape.Format(x.Shape)}");
        var kernel = Ints(node, "kernel_shape") ?? throw new CondenseException($"node '{node.Name}' ({node.OpType}) has no kernel_shape");
        var strides = Ints(node, "strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dilations = Ints(node, "dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        if (kernel.Length != spatial || strides.Length != spatial || dilations.Length != spatial)
            throw new CondenseException(
                $"node '{node.Name}' ({node.OpType}): kernel_shape, strides and dilations need {spatial} values for input shape {Shape.Format(x.Shape)}");
        if (!allowDilation && dilations.Any(d => d != 1))
            throw new CondenseException($"node '{node.Name}' ({node.OpType}): dilations are not supported");
        var pads = Pads(node, x.Shape[2..], kernel, strides, dilations);

        // 1-D runs as 2-D with a window of height 1 over a height of 1.
        long At(long[] values, int i, long one) => spatial == 1 ? (i == 0 ? one : values[0]) : values[i];
        var window = new PoolWindow((int)At(kernel, 0, 1), (int)At(kernel, 1, 1), (int)At(strides, 0, 1), (int)At(strides, 1, 1),
            (int)At(pads[..spatial], 0, 0), (int)At(pads[..spatial], 1, 0), (int)At(pads[spatial..], 0, 0), (int)At(pads[spatial..], 1, 0),
            (int)At(dilations, 0, 1), (int)At(dilations, 1, 1), node.Int("ceil_mode", 0) != 0);
        if (spatial == 2) return (x, window, y => y);
        return (x.Reshape(x.Shape[0], x.Shape[1], 1, x.Shape[2]), window, y => y.Reshape(y.Shape[0], y.Shape[1], y.Shape[3]));
    }

    // Explicit pads, or auto_pad: SAME_* pads so that out = ⌈in / stride⌉, the odd cell at the end (UPPER) or start (LOWER).
    private static long[] Pads(Node node, int[] input, long[] kernel, long[] strides, long[] dilations)
    {
        int spatial = input.Length;
        string autoPad = node.Attributes.TryGetValue("auto_pad", out var a) ? a.StringValue ?? "NOTSET" : "NOTSET";
        switch (autoPad)
        {
            case "NOTSET":
                var pads = Ints(node, "pads") ?? new long[2 * spatial];
                if (pads.Length != 2 * spatial)
                    throw new CondenseException($"node '{node.Name}' ({node.OpType}): pads needs {2 * spatial} values, got {pads.Length}");
                return pads;
            case "VALID":
                return new long[2 * spatial];
            case "SAME_UPPER" or "SAME_LOWER":
                var same = new long[2 * spatial];
                for (int i = 0; i < spatial; i++)
                {
                    long output = (input[i] + strides[i] - 1) / strides[i];
                    long total = Math.Max(0, (output - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - input[i]);
                    long small = total / 2;
                    same[i] = autoPad == "SAME_UPPER" ? small : total - small;
                    same[spatial + i] = total - same[i];
                }
                return same;
            default:
                throw new CondenseException($"node '{node.Name}' ({node.OpType}): unknown auto_pad '{autoPad}'");
        }
    }

    /// <summary>BatchNormalizationRelu (the engine's): BatchNormalization's inputs and epsilon at inference, then Relu, in one pass.</summary>
    internal static Tensor BatchNormalizationRelu(Node node, Tensor?[] inputs) =>
        Tensor.BatchNormRelu(Required(node, inputs, 0), Required(node, inputs, 3), Required(node, inputs, 4), Required(node, inputs, 1),
            Required(node, inputs, 2), node.Float("epsilon", 1e-5f));

    /// <summary>
    /// ONNX BatchNormalization(X, scale, B, input_mean, input_var). With the node attribute training_mode = 1
    /// (opset 14+) it follows ONNX: batch statistics, and outputs running_mean = input_mean·momentum +
    /// batch_mean·(1 − momentum) and running_var likewise with the biased batch variance (as ONNX's
    /// reference), as new tensors. Otherwise, when the graph module trains (<see cref="OpContext.Training"/>),
    /// it acts as PyTorch's BatchNorm2d in training mode: batch statistics, and the running mean and variance
    /// initializers updated in place with PyTorch momentum 1 − ONNX momentum and the unbiased variance, so a
    /// traced model trains the same as the module. In evaluation it uses input_mean and input_var.
    /// </summary>
    internal static Tensor[] BatchNormalization(Node node, Tensor?[] inputs, OpContext context)
    {
        var x = Required(node, inputs, 0);
        var (scale, bias, mean, variance) = (Required(node, inputs, 1), Required(node, inputs, 2), Required(node, inputs, 3), Required(node, inputs, 4));
        float eps = node.Float("epsilon", 1e-5f), momentum = node.Float("momentum", 0.9f);
        if (node.Int("training_mode", 0) == 0)
            return [Tensor.BatchNorm(x, mean, variance, scale, bias, context.Training, 1f - momentum, eps)];

        var y = Tensor.BatchNorm(x, null, null, scale, bias, training: true, eps: eps);
        int c = x.Shape[1];
        var batchMean = new float[c];
        var batchVar = new float[c];
        BatchNormKernels.Statistics(x.Data, x.Shape[0], c, x.Size / (x.Shape[0] * c), batchMean, batchVar);
        var runningMean = new float[c];
        var runningVar = new float[c];
        for (int ch = 0; ch < c; ch++)
        {
            runningMean[ch] = mean.Data[ch] * momentum + batchMean[ch] * (1f - momentum);
            runningVar[ch] = variance.Data[ch] * momentum + batchVar[ch] * (1f - momentum);
        }
        return [y, new Tensor(runningMean, c), new Tensor(runningVar, c)];
    }
}
