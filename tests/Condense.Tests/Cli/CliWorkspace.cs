using Condense.Formats;
using Condense.Graph;
using Condense.Tests.Pruning;

namespace Condense.Tests.Cli;

/// <summary>
/// A temp folder for command-line tests of model commands: a small MNIST-format data set and a briefly
/// trained MLP checkpoint (mlp:784-32-10), removed afterwards.
/// </summary>
public abstract class CliWorkspace : IDisposable
{
    protected CliWorkspace(string prefix)
    {
        Dir = Directory.CreateTempSubdirectory(prefix).FullName;
        Data = CliRunner.SmallData(Dir);
        Model = Path.Combine(Dir, "model.safetensors");
        Checkpoint.Save(TrainedMlp.Fresh().Graph, Model);
    }

    /// <summary>The temp folder.</summary>
    protected string Dir { get; }

    /// <summary>The data folder (600 train, 200 test images).</summary>
    protected string Data { get; }

    /// <summary>The trained checkpoint.</summary>
    protected string Model { get; }

    public void Dispose()
    {
        Directory.Delete(Dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected static void AssertOneLineError(CliRunner.Result r, string expectedFragment) => CliRunner.AssertOneLineError(r, expectedFragment);
}
