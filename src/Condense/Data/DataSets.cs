// Where commands get their data: the embedded MNIST subset by default, or a folder of IDX files
// (MNIST, Fashion-MNIST); calibration data from a .npy file or such a folder; and, for a model measured on data of its own
// shape, an array file: a .npy of inputs (with labels from a second .npy, or none) or a CSV file whose first column is the label.
namespace Condense.Data;

/// <summary>Resolves a data argument to train and test sets.</summary>
public static class DataSets
{
    /// <summary>The embedded MNIST subset when <paramref name="path"/> is null, else the IDX files in that folder.</summary>
    public static (Dataset Train, Dataset Test) Load(string? path)
    {
        if (path is null) return Mnist.LoadEmbedded();
        if (File.Exists(path)) throw new CondenseException($"data must be a folder of IDX files (train-images-idx3-ubyte…) here, got the file {path}");
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

    /// <summary>Whether <paramref name="path"/> names an array file (.npy or .csv) rather than a folder of IDX files.</summary>
    public static bool IsArrayFile(string? path) =>
        path is not null && (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The samples of an array file: a .npy of inputs (first dimension = samples, the rest one sample's shape), labelled by
    /// the rank-1 integer .npy <paramref name="labelsPath"/> when given; or a CSV file, one sample per line, label first.
    /// </summary>
    public static Dataset LoadArrays(string path, string? labelsPath = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!IsArrayFile(path)) throw new CondenseException($"array data must be a .npy or .csv file, got {path}");
        if (!File.Exists(path)) throw new CondenseException($"data file {path} does not exist");
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return NpyDataset.Load(path, labelsPath);
        if (labelsPath is not null) throw new CondenseException($"a CSV file carries its labels in its first column: no separate labels for {path}");
        return CsvLoader.Load(path);
    }
}
