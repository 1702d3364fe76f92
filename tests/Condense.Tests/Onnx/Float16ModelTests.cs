// Models stored in float16 (Fixtures/onnx/export-fp16.py: PyTorch's MLP as onnxconverter-common writes it, with float32
// input and output kept or float16 throughout) are imported as float32 models: they compute what ONNX Runtime computes on
// the float16 file to float16's precision, take and give float32, and quantize like any float32 model (the int8 file
// running in ONNX Runtime). A float16 op in a float32 model keeps its type.
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Quantization;
using Condense.Tensors;

namespace Condense.Tests.Onnx;

public sealed class Float16ModelTests
{
    private static Tensor Input()
    {
        var x = Npy.Read(PyTorchFixtures.Path("mlp128.input.npy"));
        return new Tensor(x.ToFloat(), x.Shape);
    }

    [Theory]
    [InlineData("mlp128-fp16.onnx")]
    [InlineData("mlp128-fp16io.onnx")]
    public void AFloat16ModelComputesInFloat32WhatOnnxRuntimeComputesInFloat16(string file)
    {
        var model = ModelFile.Load(PyTorchFixtures.Path(file));
        Assert.All(model.Graph.Initializers.Values.Where(t => t.Rank >= 2), t => Assert.Equal(DataType.Float32, t.DataType));
        Assert.Equal("float", model.Graph.Inputs[0].DataType);
        var x = Input();
        Tensor ours;
        using (GradMode.NoGrad()) ours = model.Forward(x);
        // ONNX Runtime on the file as written: float16 arithmetic, so within float16's precision of ours.
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(PyTorchFixtures.Path(file)));
        var feed = file.Contains("fp16io") ? Tensor.FromFloats(x.Data, DataType.Float16, x.Shape) : x;
        var ort = TypedParity.RunOnnxRuntime(proto, [(proto.Graph.Input[0].Name, feed)])[proto.Graph.Output[0].Name];
        Graph.TensorAsserts.Close(new Tensor([.. ort.Data], ort.Shape), ours, 1e-2f);
        // And PyTorch's float32 logits, to the weights' float16 rounding.
        var pytorch = Npy.Read(PyTorchFixtures.Path("mlp128.expected.npy"));
        Graph.TensorAsserts.Close(new Tensor(pytorch.ToFloat(), pytorch.Shape), ours, 1e-2f);
    }

    [Fact]
    public void AFloat16ModelQuantizesAndRunsInOnnxRuntime()
    {
        var model = ModelFile.Load(PyTorchFixtures.Path("mlp128-fp16io.onnx"));
        var x = Input();
        var calibration = new Dataset(x.Data, null, x.Shape[1..]);
        var quantized = Quantizer.Quantize(model, calibration, new QuantizeOptions()).Model;
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(Condense.Onnx.OnnxExporter.ToBytes(quantized.Graph));
        var ort = TypedParity.RunOnnxRuntime(proto, [(proto.Graph.Input[0].Name, x)])[proto.Graph.Output[0].Name];
        Tensor ours;
        using (GradMode.NoGrad()) ours = model.Forward(x);
        Graph.TensorAsserts.Close(ours, new Tensor([.. ort.Data], ort.Shape), 0.1f);
    }

    [Fact]
    public void AFloat16OpInAFloat32ModelKeepsItsType()
    {
        var graph = new ModelGraph();
        graph.Inputs.Add(new ValueInfo("x", [2, 3]));
        graph.Nodes.Add(new Node("half", OpTypes.Cast, ["x"], ["y"], new Dictionary<string, AttributeValue> { ["to"] = AttributeValue.Int(10) }));
        graph.Outputs.Add(new ValueInfo("y", [2, 3]) { DataType = "float16" });
        var proto = Condense.Onnx.OnnxExporter.ToModel(graph);
        string path = Path.Combine(Path.GetTempPath(), $"condense-fp16op-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(proto));
        ModelGraph back;
        try { back = Condense.Onnx.OnnxImporter.Import(path); }
        finally { File.Delete(path); }
        Assert.Equal(10, back.Nodes.Single().Int("to", 0));
        Assert.Equal("float16", back.Outputs[0].DataType);
    }
}
