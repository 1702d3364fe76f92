// Float parity cases of the index family (Graph/Ops/IndexOps) against ONNX Runtime; integer and bool outputs are
// cast to float so the suite reads them alike.
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public partial class OnnxOpParityTests
{
    private static NodeProto Nodes(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = Node(op, inputs, outputs[0], attributes);
        n.Output.AddRange(outputs[1..]);
        return n;
    }

    private static TensorProto Bools(string name, params bool[] values)
    {
        var t = new TensorProto { Name = name, DataType = 9, RawData = Google.Protobuf.ByteString.CopyFrom([.. values.Select(v => (byte)(v ? 1 : 0))]) };
        t.Dims.Add(values.Length);
        return t;
    }

    private static readonly Dictionary<string, Case> IndexCases = new()
    {
        ["Slice negative steps, clamped ends, negative axes"] = new(
            [Node("Slice", ["x", "starts", "ends", "axes", "steps"], "y")], [("x", [4, 5, 6])],
            [Longs("starts", [-1, 1, 100], 3), Longs("ends", [-100, 1000, -7], 3), Longs("axes", [0, -2, 2], 3), Longs("steps", [-2, 2, -1], 3)]),
        ["Slice opset 9 attributes"] = new(
            [Node("Slice", ["x"], "y", Ints("starts", 1, -3), Ints("ends", 1000, -1), Ints("axes", 1, 0))], [("x", [4, 5])], [], Opset: 9),
        ["Split sizes input, parts swapped back by Concat"] = new(
            [Nodes("Split", ["x", "sizes"], ["a", "b", "c"], Int("axis", 1)), Node("Concat", ["c", "a", "b"], "y", Int("axis", 1))],
            [("x", [2, 7, 3])], [Longs("sizes", [2, 0, 5], 3)]),
        ["Split num_outputs, smaller last part"] = new(
            [Nodes("Split", ["x"], ["a", "b", "c"], Int("axis", -1), Int("num_outputs", 3)), Node("Concat", ["c", "b", "a"], "y", Int("axis", -1))],
            [("x", [2, 8])], [], Opset: 18),
        ["Split opset 11 equal parts"] = new(
            [Nodes("Split", ["x"], ["a", "b"]), Node("Sub", ["a", "b"], "y")], [("x", [6, 3])], [], Opset: 11),
        ["Tile"] = new([Node("Tile", ["x", "r"], "y")], [("x", [2, 3, 1])], [Longs("r", [2, 1, 3], 3)]),
        ["Range float, added to x"] = new(
            [Node("Range", ["s", "l", "d"], "r"), Node("Add", ["x", "r"], "y")],
            [("x", [2, 10])], [Floats("s", [0.5f]), Floats("l", [7.3f]), Floats("d", [0.7f])], Opset: 11),
        ["Range int64 negative delta"] = new(
            [Node("Range", ["s", "l", "d"], "r"), Node("Cast", ["r"], "c", Int("to", 1)), Node("Mul", ["x", "c"], "y")],
            [("x", [4])], [Longs("s", [10], []), Longs("l", [2], []), Longs("d", [-2], [])], Opset: 11),
        ["Trilu upper k 1"] = new([Node("Trilu", ["x", "k"], "y")], [("x", [2, 3, 5])], [Longs("k", [1], [])], Opset: 14),
        ["GatherElements axis 1, negative indices"] = new(
            [Node("GatherElements", ["x", "i"], "y", Int("axis", 1))], [("x", [3, 4, 2])], [Longs("i", [0, -1, 3, 2, 1, 1, -4, 0, 2, 3, 0, 0], 3, 2, 2)]),
        ["GatherND batch_dims 1"] = new(
            [Node("GatherND", ["x", "i"], "y", Int("batch_dims", 1))], [("x", [2, 3, 4])], [Longs("i", [2, -1, 0, 1, 1, 3, 0, 0], 2, 2, 2)], Opset: 12),
        ["ScatterElements add, duplicate indices"] = new(
            [Node("ScatterElements", ["x", "i", "u"], "y", Int("axis", 0), StringAttr("reduction", "add"))],
            [("x", [3, 2]), ("u", [2, 2])], [Longs("i", [1, 1, 1, -3], 2, 2)], Opset: 16),
        ["ScatterElements none"] = new(
            [Node("ScatterElements", ["x", "i", "u"], "y", Int("axis", -1))], [("x", [2, 5]), ("u", [2, 2])], [Longs("i", [4, 0, 2, -1], 2, 2)]),
        ["Scatter opset 10"] = new(
            [Node("Scatter", ["x", "i", "u"], "y", Int("axis", 1))], [("x", [2, 5]), ("u", [2, 2])], [Longs("i", [4, 0, 2, -1], 2, 2)], Opset: 10),
        ["ScatterND none, slices"] = new(
            [Node("ScatterND", ["x", "i", "u"], "y")], [("x", [4, 3]), ("u", [2, 3])], [Longs("i", [3, 0], 2, 1)]),
        ["ScatterND add, elements"] = new(
            [Node("ScatterND", ["x", "i", "u"], "y", StringAttr("reduction", "add"))], [("x", [4, 3]), ("u", [3])], [Longs("i", [1, 2, 1, 2, 0, 0], 3, 2)],
            Opset: 16),
        ["OneHot axis 1, negative index"] = new(
            [Node("OneHot", ["i", "d", "v"], "y", Int("axis", 1))], [("v", [2])], [Longs("i", [0, -1, 2, 7], 2, 2), Floats("d", [4f])], Opset: 11),
        ["ArgMax keepdims, ArgMin last index"] = new(
            [Node("ArgMax", ["x"], "a", Int("axis", 1)), Node("ArgMin", ["x"], "b", Int("axis", 1), Int("select_last_index", 1)),
                Node("Add", ["a", "b"], "s"), Node("Cast", ["s"], "y", Int("to", 1))],
            [("x", [3, 5, 2])], [], Opset: 12),
        ["TopK largest, values and indices"] = new(
            [Nodes("TopK", ["x", "k"], ["v", "i"], Int("axis", 1)), Node("Cast", ["i"], "f", Int("to", 1)), Node("Add", ["v", "f"], "y")],
            [("x", [2, 6, 3])], [Longs("k", [3], 1)]),
        ["TopK smallest, last axis"] = new(
            [Nodes("TopK", ["x", "k"], ["y", "i"], Int("largest", 0))], [("x", [4, 7])], [Longs("k", [2], 1)], Opset: 11),
        ["CumSum exclusive reverse"] = new(
            [Node("CumSum", ["x", "a"], "y", Int("exclusive", 1), Int("reverse", 1))], [("x", [3, 4, 2])], [Longs("a", [1], [])], Opset: 11),
        // The second CastLike reads a constant "like", so no gradient is expected through the float16 value.
        ["CastLike float32 and through float16"] = new(
            [Node("CastLike", ["x", "x"], "c"), Node("Cast", ["c"], "h", Int("to", 10)),
                Node("Constant", [], "like", TensorValue("value", Floats("like", [0f], 1))), Node("CastLike", ["h", "like"], "y")],
            [("x", [3, 7])], [], Opset: 15, Low: -100f, High: 100f),
        ["Size, EyeLike, NonZero"] = new(
            [Node("Size", ["x"], "s"), Node("Cast", ["s"], "sf", Int("to", 1)), Node("EyeLike", ["x"], "e", Int("k", 1)),
                Node("Greater", ["x", "zero"], "g"), Node("NonZero", ["g"], "nz"), Node("Cast", ["nz"], "nzf", Int("to", 1)),
                Node("ReduceSum", ["nzf"], "total", Int("keepdims", 0)), Node("Mul", ["e", "sf"], "m"), Node("Add", ["m", "total"], "y")],
            [("x", [3, 4])], [Floats("zero", [0f])], Opset: 11),
        ["Compress axis 1"] = new(
            [Node("Compress", ["x", "c"], "y", Int("axis", 1))], [("x", [2, 4, 3])], [Bools("c", true, false, true)], Opset: 11),
        ["Compress flattened"] = new([Node("Compress", ["x", "c"], "y")], [("x", [2, 2])], [Bools("c", false, true, true)], Opset: 11),
        ["Unique sorted, counts added"] = new(
            [Node("Cast", ["x"], "t", Int("to", 6)), Node("Cast", ["t"], "f", Int("to", 1)), Nodes("Unique", ["f"], ["u", "i", "inv", "n"]),
                Node("Cast", ["n"], "nf", Int("to", 1)), Node("Add", ["u", "nf"], "y")],
            [("x", [3, 4])], [], Opset: 11, Low: -3f, High: 3f),
        ["DepthToSpace CRD"] = new([Node("DepthToSpace", ["x"], "y", Int("blocksize", 2), StringAttr("mode", "CRD"))], [("x", [2, 8, 2, 3])], [], Opset: 11),
        ["DepthToSpace DCR"] = new([Node("DepthToSpace", ["x"], "y", Int("blocksize", 2))], [("x", [1, 8, 3, 2])], [], Opset: 11),
        ["SpaceToDepth"] = new([Node("SpaceToDepth", ["x"], "y", Int("blocksize", 2))], [("x", [2, 3, 4, 6])], []),
        ["Trilu lower k -1"] = new([Node("Trilu", ["x", "k"], "y", Int("upper", 0))], [("x", [4, 3])], [Longs("k", [-1], [])], Opset: 14),
    };
}
