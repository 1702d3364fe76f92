// Every reduction against ONNX Runtime for every type both run: axes as an attribute (opset 13) and as an input
// (opset 18), one axis or several, keepdims on and off. Integer sums and products wrap like the type; integer means
// truncate; float16 accumulates wider than itself.
using Condense.Tensors;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public class TypedReduceOpParityTests
{
    private const DataType F32 = DataType.Float32, F64 = DataType.Float64, F16 = DataType.Float16;
    private const DataType I8 = DataType.Int8, I32 = DataType.Int32, I64 = DataType.Int64, U8 = DataType.UInt8, U32 = DataType.UInt32, U64 = DataType.UInt64;

    // Each reduction with the types ONNX Runtime 1.31's CPU kernels run it on, and the float input range in its domain.
    private static readonly (string Op, DataType[] Types, double Low, double High)[] Reductions =
    [
        ("ReduceSum", [F32, F64, F16, I32, I64], -2, 2),
        ("ReduceMean", [F32, F64, F16, I32, I64], -2, 2),
        ("ReduceMax", [F32, F64, F16, I8, U8, I32, I64], -2, 2),
        ("ReduceMin", [F32, F64, F16, I8, U8, I32, I64], -2, 2),
        ("ReduceProd", [F32, F64, F16, I32, I64], 0.5, 1.5),
        ("ReduceSumSquare", [F32, F64, F16, I32, I64], -2, 2),
        ("ReduceL1", [F32, F64, F16, I32, I64], -2, 2),
        ("ReduceL2", [F32, F64, F16, I32, I64], -2, 2),
        ("ReduceLogSum", [F32, F64, F16], 0.1, 2),
        ("ReduceLogSumExp", [F32, F64, F16], -3, 3),
    ];

    public static TheoryData<string, DataType, int> Cases()
    {
        var data = new TheoryData<string, DataType, int>();
        foreach (var (op, types, _, _) in Reductions)
            foreach (var type in types)
                foreach (int form in new[] { 0, 1, 2 })
                    data.Add(op, type, form);
        return data;
    }

    // form 0: one axis as an attribute, keepdims; 1: two axes as an input, no keepdims; 2: every axis (no axes given).
    [Theory]
    [MemberData(nameof(Cases))]
    public void ReductionMatchesOnnxRuntime(string op, DataType type, int form)
    {
        var (_, _, low, high) = Reductions.Single(r => r.Op == op);
        var x = TypedParity.Random(type, [3, 4, 5], (ulong)(71 + form), low, high);
        // Integer products in −2…2 over 60 values stay inside int64, and inside int32 over a smaller tensor: ONNX
        // Runtime's overflow differs from ONNX's wrapping reference (see IntegerOverflowWrapsAsTheOnnxReferenceDoes).
        if (op == "ReduceProd" && type.IsInteger())
        {
            var small = TypedParity.Random(type, type == I32 ? [2, 3, 2] : [3, 4, 5], (ulong)(71 + form));
            x = Tensor.FromInt64s([.. small.Int64Data.Select(v => v % 3)], type, small.Shape);
        }
        bool axesInput = form == 1;
        // ReduceSum took axes as an input from opset 13, the others from 18.
        long opset = axesInput ? 18 : op == "ReduceSum" ? 11 : 13;
        var node = form switch
        {
            0 => Node(op, ["x"], "y", Ints("axes", 1)),
            1 => Node(op, ["x", "axes"], "y", Int("keepdims", 0)),
            _ => Node(op, ["x"], "y", Int("keepdims", 0)),
        };
        var initializers = axesInput ? new[] { Longs("axes", [0, -1], 2) } : null;
        string? mismatch = TypedParity.Mismatch([node], [("x", x)], [("y", type)], opset, initializers);
        Assert.True(mismatch is null, mismatch);
    }

    // ONNX leaves integer overflow to the type, and its numpy reference wraps (two's complement); ONNX Runtime 1.31
    // saturates a ReduceSum/ReduceProd that overflows (int32 max + 7 gives int32 max). Condense wraps, as its
    // elementwise Add and Mul do and as ONNX Runtime's own Add does.
    [Fact]
    public void IntegerOverflowWrapsAsTheOnnxReferenceDoes()
    {
        var big = Tensor.FromInt64s([int.MaxValue, 1, 7, -8], DataType.Int32, 2, 2);
        Assert.Equal([int.MaxValue + 7L - 4294967296L, -7], Run(Node("ReduceSum", ["x"], "y", Ints("axes", 0)), big, 11).Int64Data);
        var large = Tensor.FromInt64s([1L << 40, 1L << 30, 3, 5], DataType.Int64, 2, 2);
        Assert.Equal([unchecked((1L << 40) * (1L << 30)), 15], Run(Node("ReduceProd", ["x"], "y", Ints("axes", 1)), large, 13).Int64Data);
    }

    [Fact]
    public void IntegerMeansTruncateAsOnnxRuntimeDoes()
    {
        var x = Tensor.FromInt64s([7, -2, 3, 1, 1, 1, -9, 4], DataType.Int64, 2, 4);
        foreach (var node in new[] { Node("ReduceMean", ["x"], "y", Int("keepdims", 0)), Node("ReduceMean", ["x"], "y", Ints("axes", 1)) })
        {
            string? m = TypedParity.Mismatch([node], [("x", x)], [("y", DataType.Int64)], 13);
            Assert.True(m is null, m);
        }
    }

    private static Tensor Run(global::Onnx.NodeProto node, Tensor x, long opset)
    {
        var model = TypedParity.Model([node], [("x", x)], [("y", x.DataType)], opset);
        string path = Save(model, "reduce-wrap");
        try
        {
            var module = new Condense.Graph.GraphModule(Condense.Onnx.OnnxImporter.Import(path));
            return module.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"];
        }
        finally { File.Delete(path); }
    }
}
