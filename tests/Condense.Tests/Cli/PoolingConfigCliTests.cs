// A sentence-transformers folder states its pooling in 1_Pooling/config.json (Hugging Face repositories keep the ONNX file
// in onnx/, one folder below it): text commands then pool as it says — the oracle is the same command with --pooling given —
// and a model they save carries the pooling, so it embeds the same from a folder without the config. A mode Condense does
// not compute is a warning, a broken config a one-line error.
using Condense.Data;
using Condense.Tests.Distillation;
using Condense.Tests.Transformers;
using Google.Protobuf;

namespace Condense.Tests.Cli;

public sealed class PoolingConfigCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("condense-pooling").FullName;

    public PoolingConfigCliTests()
    {
        Directory.CreateDirectory(At("repo/onnx"));
        Directory.CreateDirectory(At("repo/1_Pooling"));
        File.WriteAllBytes(At("repo/onnx/model.onnx"), TinyTransformer.Bert(17, layers: 1).ToByteArray());
        File.WriteAllText(At("repo/onnx/vocab.txt"), TextDistillationTests.Vocabulary());
        File.WriteAllLines(At("text.txt"), TextDistillationTests.Passages(12, 3));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    private string At(string name) => Path.Combine(_dir, name);

    private float[] Embed(string model, params string[] options)
    {
        var result = CliRunner.Run(["embed", model, "--text", At("text.txt"), "--max-length", "16", "-o", At("e.npy"), .. options]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return Npy.Read(At("e.npy")).ToFloat();
    }

    private void Config(string json) => File.WriteAllText(At("repo/1_Pooling/config.json"), json);

    [Fact]
    public void TheFoldersPoolingIsUsedAndCarriedByWhatIsSaved()
    {
        Config("""{"word_embedding_dimension": 16, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}""");
        var cls = Embed(At("repo/onnx/model.onnx"), "--pooling", "cls");
        Assert.NotEqual(Embed(At("repo/onnx/model.onnx"), "--pooling", "mean"), cls);
        Assert.Equal(cls, Embed(At("repo/onnx/model.onnx")));
        var said = CliRunner.Run("embed", At("repo/onnx/model.onnx"), "--text", At("text.txt"), "--max-length", "16", "-o", At("e.npy"));
        Assert.Contains("pooling: cls (", said.Stdout);

        var quantized = CliRunner.Run("quantize", At("repo/onnx/model.onnx"), "--text", At("text.txt"), "--max-length", "16", "--mode", "dynamic",
            "-o", At("q.onnx"));
        Assert.True(quantized.ExitCode == 0, quantized.Stderr);
        // q.onnx sits in a folder with no config; it carries cls. So does a distilled student, its heads spread by a sensitivity
        // measured on [CLS] embeddings.
        Assert.Equal(Embed(At("q.onnx"), "--pooling", "cls"), Embed(At("q.onnx")));
        var distilled = CliRunner.Run("distill", "--teacher", At("repo/onnx/model.onnx"), "--text", At("text.txt"), "--eval-text", At("text.txt"),
            "--student-heads", "0.5", "--student-allocation", "sensitivity", "--epochs", "1", "--max-length", "16", "-o", At("s.onnx"));
        Assert.True(distilled.ExitCode == 0, distilled.Stderr);
        Assert.Contains("pooling: cls (", distilled.Stdout);
        Assert.Equal(Embed(At("s.onnx"), "--pooling", "cls"), Embed(At("s.onnx")));
    }

    [Fact]
    public void AModeNotComputedIsAWarningAndABrokenConfigAnError()
    {
        Config("""{"pooling_mode_max_tokens": true}""");
        var warned = CliRunner.Run("embed", At("repo/onnx/model.onnx"), "--text", At("text.txt"), "--max-length", "16", "-o", At("e.npy"));
        Assert.True(warned.ExitCode == 0, warned.Stderr);
        Assert.Contains("asks for max pooling, which Condense does not compute: the mean is used", warned.Stdout);
        Assert.Equal(Embed(At("repo/onnx/model.onnx"), "--pooling", "mean"), Npy.Read(At("e.npy")).ToFloat());

        Config("""{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}""");
        CliRunner.AssertOneLineError(CliRunner.Run("embed", At("repo/onnx/model.onnx"), "--text", At("text.txt"), "-o", At("e.npy")),
            "config.json: several pooling modes are set (cls, mean)");
        Config("{ not json");
        CliRunner.AssertOneLineError(CliRunner.Run("embed", At("repo/onnx/model.onnx"), "--text", At("text.txt"), "-o", At("e.npy")),
            "config.json: not a sentence-transformers pooling config");
    }
}
