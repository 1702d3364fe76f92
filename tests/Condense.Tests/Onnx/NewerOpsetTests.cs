// Models written at opsets 22–26 (ONNX 1.17–1.21): the ops Condense runs changed there only by types and by attributes whose
// defaults keep opset 21's meaning, so PyTorch's LeNet-5 declared at each of those opsets computes what ONNX Runtime
// computes, and its quantized export keeps the opset with the IR version that opset arrived with. An attribute set to
// what Condense does not compute, and opset 27 (past what ONNX Runtime 1.31 reads), are one-line refusals.
using Condense.Autograd;
using Condense.Data;
using Condense.Formats;
using Condense.Quantization;
using Condense.Tensors;
using Google.Protobuf;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Onnx;

public sealed class NewerOpsetTests
{
    private static global::Onnx.ModelProto LeNetAt(long opset)
    {
        var model = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(PyTorchFixtures.Path("lenet5.onnx")));
        model.OpsetImport.Single(o => o.Domain == "").Version = opset;
        model.IrVersion = opset switch { >= 25 => 13, 24 => 12, 23 => 11, _ => 10 };
        return model;
    }

    private static Tensor Input()
    {
        var x = Npy.Read(PyTorchFixtures.Path("lenet5.input.npy"));
        return new Tensor(x.ToFloat(), x.Shape);
    }

    [Theory]
    [InlineData(22)]
    [InlineData(23)]
    [InlineData(24)]
    [InlineData(25)]
    [InlineData(26)]
    public void ALeNetDeclaredAtANewerOpsetRunsAndQuantizesAsOnnxRuntimeDoes(long opset)
    {
        var proto = LeNetAt(opset);
        string path = Save(proto, $"lenet5-op{opset}");
        try
        {
            var model = ModelFile.Load(path);
            var x = Input();
            Tensor ours;
            using (GradMode.NoGrad()) ours = model.Forward(x);
            var ort = TypedParity.RunOnnxRuntime(proto, [(proto.Graph.Input[0].Name, x)])[proto.Graph.Output[0].Name];
            Graph.TensorAsserts.Close(new Tensor([.. ort.Data], ort.Shape), ours, 1e-5f);

            var quantized = Quantizer.Quantize(model, new Dataset(x.Data, null, x.Shape[1..]), new QuantizeOptions()).Model;
            var written = global::Onnx.ModelProto.Parser.ParseFrom(Condense.Onnx.OnnxExporter.ToBytes(quantized.Graph));
            Assert.Equal(opset, written.OpsetImport.Single(o => o.Domain == "").Version);
            Assert.Equal(proto.IrVersion, written.IrVersion);
            var int8 = TypedParity.RunOnnxRuntime(written, [(written.Graph.Input[0].Name, x)])[written.Graph.Output[0].Name];
            Tensor simulated;
            using (GradMode.NoGrad()) simulated = quantized.Forward(x);
            Graph.TensorAsserts.Close(simulated, new Tensor([.. int8.Data], int8.Shape), 0.05f);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void WhatOpset21DoesNotMeanIsRefused()
    {
        string beyond = Save(LeNetAt(27), "lenet5-op27");
        var x = Value("x", 2, 3);
        var y = Value("y", 2, 3);
        var scale = Floats("s", [0.1f]);
        var zero = new global::Onnx.TensorProto { Name = "z", DataType = 2, RawData = ByteString.CopyFrom([(byte)7]) };
        string Quantize(long precision) => Save(Model([Node("QuantizeLinear", ["x", "s", "z"], "q", Int("precision", precision)),
            Node("DequantizeLinear", ["q", "s", "z"], "y")], x, y, [scale, zero], opset: 23), $"precision{precision}");
        string half = Quantize(10), single = Quantize(1);
        try
        {
            var e = Assert.Throws<InvalidFileException>(() => ModelFile.Load(beyond));
            Assert.Contains("opset 27 is not supported (supported: 1–26)", e.Message);
            var p = Assert.ThrowsAny<CondenseException>(() => ModelFile.Load(half));
            Assert.Contains("precision = 10", p.Message);
            Assert.DoesNotContain('\n', p.Message);
            var model = ModelFile.Load(single);
            var values = model.Run(new Dictionary<string, Tensor> { ["x"] = new Tensor([0.04f, 0.06f, -0.3f, 1f, 25f, 0.05f], 2, 3) });
            Assert.Equal([0f, 0.1f, -0.3f, 1f, 24.8f, 0f], values["y"].Data.Select(v => MathF.Round(v, 4)).ToArray());
        }
        finally
        {
            foreach (var file in new[] { beyond, half, single }) File.Delete(file);
        }
    }
}
