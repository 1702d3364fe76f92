// `condense compose`: ResNet-18's preprocessing graph and ResNet-18 become one file that loads back with the
// preprocessing's input and the model's output; connections that do not fit and outputs onto an input are one-line
// errors that write nothing.
using System.Text.Json;
using Condense.Formats;
using Condense.Tests.Pretrained;

namespace Condense.Tests.Cli;

public sealed class ComposeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-compose").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void PreprocessingAndResNetBecomeOneFile()
    {
        string output = Path.Combine(_dir, "resnet18.rgb.onnx");

        var r = CliRunner.Run("compose", PretrainedModels.ResNetPreprocessOnnx, PretrainedModels.ResNet18Onnx, "-o", output, "--json");

        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonDocument.Parse(r.Stdout).RootElement;
        Assert.Equal(output, json.GetProperty("output").GetString());
        var connection = json.GetProperty("connections")[0];
        Assert.Equal(("PreprocessedInput", "Input247"), (connection.GetProperty("from").GetString(), connection.GetProperty("to").GetString()));
        Assert.Equal("OriginalInput", json.GetProperty("inputs")[0].GetProperty("name").GetString());
        Assert.Equal("Pooling395_Output_0", json.GetProperty("outputs")[0].GetProperty("name").GetString());
        var nodes = json.GetProperty("nodes");
        Assert.Equal(3, nodes.GetProperty("first").GetInt32());
        var composed = ModelFile.Load(output);
        Assert.Equal(nodes.GetProperty("total").GetInt32(), composed.Graph.Nodes.Count);
        Assert.Equal(3 + nodes.GetProperty("second").GetInt32(), composed.Graph.Nodes.Count);
        Assert.Equal([1, 3, 224, 224], composed.Graph.Inputs.Single().Shape);
        Assert.Contains("3 nodes from the first model", r.Stderr);   // with --json the tables go to stderr
    }

    [Fact]
    public void ConnectionsThatDoNotFitAndOutputsOntoAnInputWriteNothing()
    {
        string output = Path.Combine(_dir, "backwards.onnx");
        var r = CliRunner.Run("compose", PretrainedModels.ResNet18Onnx, PretrainedModels.ResNetPreprocessOnnx, "-o", output);
        CliRunner.AssertOneLineError(r, "the first graph's output 'Pooling395_Output_0' [1, 512, 1, 1] (float) cannot feed the second's input "
            + "'OriginalInput' [1, 3, 224, 224] (float): dimension 1 is 512, not 3");
        Assert.False(File.Exists(output));

        string second = Path.Combine(_dir, "model.onnx");
        File.Copy(PretrainedModels.ResNetPreprocessOnnx, second);
        byte[] before = File.ReadAllBytes(second);
        var onto = CliRunner.Run("compose", PretrainedModels.ResNetPreprocessOnnx, second, "-o", second);
        CliRunner.AssertOneLineError(onto, $"would overwrite the second model {second}");
        Assert.Equal(before, File.ReadAllBytes(second));
    }
}
