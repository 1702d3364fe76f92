// ModelFingerprint: the same weights give the same hash whatever the file format or storage, and any
// change to a value, a name or a shape gives another; the learning-rate default of a student made from a
// convolutional teacher follows the teacher.
using Condense.Formats;
using Condense.Distillation;
using Condense.Graph;
using Condense.Nn;
using Condense.Onnx;
using Condense.Tests.Formats;

namespace Condense.Tests.Graph;

public sealed class ModelFingerprintTests : IDisposable
{
    private readonly ScratchDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelGraph Traced(string spec, ulong seed) => GraphTracer.Trace(ModelSpec.Parse(spec).Build(seed), [784]);

    [Fact]
    public void SameWeightsSameFingerprintAnyChangeAnother()
    {
        var graph = Traced("mlp:784-16-10", 1);
        string fingerprint = ModelFingerprint.Of(graph);
        Assert.Matches("^[0-9a-f]{64}$", fingerprint);
        string safetensors = _dir.File("m.safetensors"), onnx = _dir.File("m.onnx");
        ModelFile.Save(graph, safetensors);
        ModelFile.Save(graph, onnx);
        Assert.Equal(fingerprint, ModelFingerprint.Of(ModelFile.Load(safetensors)));
        Assert.Equal(fingerprint, ModelFingerprint.Of(ModelFile.Load(onnx)));

        Assert.NotEqual(fingerprint, ModelFingerprint.Of(Traced("mlp:784-16-10", 2)));   // same names and shapes, other values
        var nudged = graph.Clone();
        nudged.Initializers["1.weight"].Data[7] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(nudged.Initializers["1.weight"].Data[7]) + 1);
        Assert.NotEqual(fingerprint, ModelFingerprint.Of(nudged));                      // one ulp of one weight
    }

    [Fact]
    public void AStudentPrunedFromAConvTeacherGetsTheConvLearningRate()
    {
        var lenet = new GraphModule(GraphTracer.Trace(ModelSpec.Parse("lenet5").Build(0), [784]));
        var mlp = new GraphModule(Traced("mlp:784-16-10", 0));
        Assert.Equal(0.02f, DistillOptions.DefaultLearningRate(null, lenet));
        Assert.Equal(0.05f, DistillOptions.DefaultLearningRate(null, mlp));
        Assert.Equal(0.05f, DistillOptions.DefaultLearningRate(ModelSpec.Parse("mlp:784-30-10"), lenet));   // the spec decides when given
        Assert.Equal(0.02f, DistillOptions.DefaultLearningRate(ModelSpec.Parse("lenet5")));
    }
}
