// ONNX MaxPool and AveragePool on the N-D pooling kernels: 3-D inputs (N, C, D, H, W), and AveragePool with
// dilations (opset 19) at any rank. Same attributes as the 2-D path (GraphOps.Pool.cs): kernel_shape, strides,
// pads ([x1_begin, x2_begin, …, x1_end, …]), dilations, ceil_mode, count_include_pad, auto_pad, storage_order.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    private static Tensor[] MaxPoolNd(Node node, Tensor x)
    {
        var (y, argmax) = x.MaxPoolNd(NdWindow(node, x));
        if (node.Outputs.Count < 2) return [y];
        // ONNX Indices flatten over the whole input tensor: plane · size + the in-plane index, row-major, or
        // column-major (the first spatial axis fastest) with storage_order 1.
        bool columnMajor = node.Int("storage_order", 0) != 0;
        var spatial = x.Shape[2..];
        int planeIn = spatial.Aggregate(1, (p, d) => p * d), planeOut = y.Size / Math.Max(1, x.Shape[0] * x.Shape[1]);
        var indices = new long[argmax.Length];
        for (int i = 0; i < argmax.Length; i++)
            indices[i] = (long)(i / planeOut) * planeIn + (columnMajor && argmax[i] >= 0 ? ColumnMajor(argmax[i], spatial) : argmax[i]);
        return [y, Tensor.FromInt64s(indices, DataType.Int64, y.Shape)];
    }

    private static Tensor AveragePoolNd(Node node, Tensor x) =>
        x.AvgPoolNd(NdWindow(node, x), node.Int("count_include_pad", 0) != 0);

    // A row-major in-plane index as the column-major one of the same position.
    private static int ColumnMajor(int rowMajor, int[] sizes)
    {
        int result = 0, stride = 1;
        var coordinate = new int[sizes.Length];
        for (int a = sizes.Length - 1; a >= 0; a--) { coordinate[a] = rowMajor % sizes[a]; rowMajor /= sizes[a]; }
        for (int a = 0; a < sizes.Length; a++) { result += coordinate[a] * stride; stride *= sizes[a]; }
        return result;
    }

    private static PoolWindowNd NdWindow(Node node, Tensor x)
    {
        int spatial = x.Rank - 2;
        if (spatial is < 1 or > 3)
            throw new CondenseException(
                $"node '{node.Name}' ({node.OpType}): only 1-D, 2-D and 3-D pooling are supported, got input shape {Shape.Format(x.Shape)}");
        var kernel = Ints(node, "kernel_shape") ?? throw new CondenseException($"node '{node.Name}' ({node.OpType}) has no kernel_shape");
        var strides = Ints(node, "strides") ?? Enumerable.Repeat(1L, spatial).ToArray();
        var dilations = Ints(node, "dilations") ?? Enumerable.Repeat(1L, spatial).ToArray();
        if (kernel.Length != spatial || strides.Length != spatial || dilations.Length != spatial)
            throw new CondenseException(
                $"node '{node.Name}' ({node.OpType}): kernel_shape, strides and dilations need {spatial} values for input shape {Shape.Format(x.Shape)}");
        // ONNX Runtime pads SAME windows as if undilated (its pad_needed uses the kernel, not the dilated kernel), against the spec.
        if (node.Attributes.TryGetValue("auto_pad", out var autoPad) && autoPad.StringValue is "SAME_UPPER" or "SAME_LOWER" && dilations.Any(d => d != 1))
            throw new CondenseException(
                $"node '{node.Name}' ({node.OpType}): auto_pad {autoPad.StringValue} with dilations is refused (ONNX and ONNX Runtime pad it differently)");
        var pads = Pads(node, x.Shape[2..], kernel, strides, dilations);
        static int[] Narrow(long[] values) => values.Select(v => checked((int)v)).ToArray();
        return new PoolWindowNd(Narrow(kernel), Narrow(strides), Narrow(pads[..spatial]), Narrow(pads[spatial..]), Narrow(dilations),
            node.Int("ceil_mode", 0) != 0);
    }
}
