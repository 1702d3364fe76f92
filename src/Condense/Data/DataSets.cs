// Where commands get their data: the embedded MNIST subset by default, or a folder of IDX files
// (MNIST, Fashion-MNIST) given with --data; calibration data from a .npy file or such a folder.
namespace Condense.Data;

/// <summary>Resolves a data argument to train and test sets.</summary>
public static class DataSets
{
    /// <summary>The embedded MNIST subset when <paramref name="path"/> is null, else the IDX files in that folder.</summary>
    public static (Dataset Train, Dataset Test) Load(string? path)
    {
        if (path is null) return Mnist.LoadEmbedded();
        if (File.Exists(path)) throw new CondenseException($"data must be a folder of IDX files (train-images-idx3-ubyte…), got the file {path}");
        if (!Directory.Exists(path)) throw new CondenseException($"data folder {path} does not exist");
        return Mnist.LoadDirectory(path);
    }

    /// <summary>
    /// Calibration samples: a .npy file of features (first dimension = samples; any sample shape that
    /// holds the model's input, e.g. N×784 or N×1×28×28, used as given) or a folder of IDX files (its
    /// training set).
    /// </summary>
    public static Dataset LoadCalibration(string path)
    {
        if (Directory.Exists(path)) return Mnist.LoadDirectory(path).Train;
        if (!File.Exists(path)) throw new CondenseException($"calibration data {path} does not exist");
        if (!path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            throw new CondenseException($"calibration data must be a .npy file or a folder of IDX files, got {path}");
        return NpyDataset.Load(path, null);
    }
}
