// Builds a Dataset from .npy files, as saved by np.save: a features array whose first dimension
// counts samples (the rest is the sample shape) and, optionally, a rank-1 integer labels array.
namespace Condense.Data;

/// <summary>Loads a <see cref="Dataset"/> from NumPy .npy files.</summary>
public static class NpyDataset
{
    /// <summary>
    /// Loads features (any supported dtype, rank ≥ 1, first dimension = samples) and optional labels
    /// (int64, int32 or uint8, rank 1, one per sample). Features are multiplied by
    /// <paramref name="featureScale"/> when given, e.g. 1/255 for uint8 pixels.
    /// </summary>
    public static Dataset Load(string featuresPath, string? labelsPath, float? featureScale = null)
    {
        var features = Npy.Read(featuresPath);
        if (features.Shape.Length == 0)
            throw new InvalidFileException(featuresPath, "features are a scalar; expected an array whose first dimension counts samples");
        int count = features.Shape[0];
        int[] sampleShape = features.Shape.Length == 1 ? [1] : features.Shape[1..];
        if (sampleShape.Contains(0))
            throw new InvalidFileException(featuresPath, $"samples of shape {Tensors.Shape.Format(sampleShape)} are empty");

        float[] values = features.ToFloat();
        if (featureScale is float scale)
            for (int i = 0; i < values.Length; i++) values[i] *= scale;

        int[]? labels = labelsPath is null ? null : LoadLabels(labelsPath, count, featuresPath);
        return new Dataset(values, labels, sampleShape, Path.GetFileNameWithoutExtension(featuresPath));
    }

    private static int[] LoadLabels(string path, int count, string featuresPath)
    {
        var array = Npy.Read(path);
        if (array.Dtype is not (NpyDtype.Int64 or NpyDtype.Int32 or NpyDtype.UInt8))
            throw new InvalidFileException(path, $"labels must be int64, int32 or uint8, found {array.Dtype}");
        if (array.Shape.Length != 1)
            throw new InvalidFileException(path, $"labels must be rank 1, found shape {Tensors.Shape.Format(array.Shape)}");
        if (array.Shape[0] != count)
            throw new CondenseException($"{Path.GetFileName(featuresPath)} has {count} samples but {Path.GetFileName(path)} has {array.Shape[0]} labels");

        int[] labels;
        try
        {
            labels = array.ToInt();
        }
        catch (OverflowException e)
        {
            throw new InvalidFileException(path, $"label {e.Message}");
        }
        int bad = Array.FindIndex(labels, l => l < 0);
        if (bad >= 0)
            throw new InvalidFileException(path, $"label {bad} is negative ({labels[bad]})");
        return labels;
    }
}
