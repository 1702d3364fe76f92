// Where commands get their data: the embedded MNIST subset by default, or a folder of IDX files
// (MNIST, Fashion-MNIST) given with --data.
namespace Condense.Data;

/// <summary>Resolves a data argument to train and test sets.</summary>
public static class DataSets
{
    /// <summary>The embedded MNIST subset when <paramref name="path"/> is null, else the IDX files in that folder.</summary>
    public static (Dataset Train, Dataset Test) Load(string? path)
    {
        if (path is null) return Mnist.LoadEmbedded();
        if (File.Exists(path)) throw new CondenseException($"--data expects a folder of IDX files (train-images-idx3-ubyte…), got the file {path}");
        if (!Directory.Exists(path)) throw new CondenseException($"data folder {path} does not exist");
        return Mnist.LoadDirectory(path);
    }
}
