// A model whose weights are float16 (Hugging Face's model_fp16.onnx, onnxconverter-common's convert_float_to_float16,
// with or without float32 inputs and outputs kept) is imported as the same model in float32: Condense's kernels,
// quantizers and pruners work in float32, and every float16 value is exact in float32, so the float32 model computes
// what the float16 one approximates. Its float16 initializers become float32, its casts to float16 cast to float32, a
// float16 fill value (ConstantOfShape) becomes float32, and its float16 inputs and outputs are declared float32: the
// files Condense writes from it are float32 (or quantized) models. Graphs without float16 weights are left as they are
// (a float16 op in a float32 model keeps its type: the ONNX backend tests check exactly that).
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

internal static class Float16Upcast
{
    private const long OnnxFloat = 1, OnnxFloat16 = 10;

    /// <summary>Upcasts <paramref name="graph"/> in place when a weight of a Linear or Conv is float16; true when it did.</summary>
    public static bool Apply(ModelGraph graph)
    {
        bool weights = graph.Nodes.Any(n => n.OpType is OpTypes.MatMul or OpTypes.Gemm or OpTypes.Conv && n.Inputs.Count > 1
            && graph.Initializers.TryGetValue(n.Inputs[1], out var w) && w.DataType == DataType.Float16 && w.Rank >= 2);
        if (!weights) return false;
        foreach (var (name, tensor) in graph.Initializers.Where(i => i.Value.DataType == DataType.Float16).ToList())
        {
            graph.Initializers[name] = Tensor.FromFloats((float[])tensor.Data.Clone(), DataType.Float32, tensor.Shape);
            if (tensor.Rank > 0) graph.Trainable.Add(name);
        }
        foreach (var node in graph.Nodes)
        {
            if (node.OpType == OpTypes.Cast && node.Int("to", 0) == OnnxFloat16) node.Attributes["to"] = AttributeValue.Int(OnnxFloat);
            if (node.OpType == OpTypes.ConstantOfShape && node.Attributes.TryGetValue("value", out var fill)
                && fill.TensorValue is { DataType: DataType.Float16 } value)
                node.Attributes["value"] = AttributeValue.Tensor(Tensor.FromFloats((float[])value.Data.Clone(), DataType.Float32, value.Shape));
        }
        for (int i = 0; i < graph.Inputs.Count; i++)
            if (graph.Inputs[i].DataType == "float16") graph.Inputs[i] = graph.Inputs[i] with { DataType = "float" };
        for (int i = 0; i < graph.Outputs.Count; i++)
            if (graph.Outputs[i].DataType == "float16") graph.Outputs[i] = graph.Outputs[i] with { DataType = "float" };
        return true;
    }
}
