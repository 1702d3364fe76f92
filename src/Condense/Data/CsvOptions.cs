// Options for CsvLoader: where the label is, whether there is a header, the delimiter, and how to
// scale and shape the features. Immutable; the defaults read a Kaggle-style "label,pixel0,..." file.
namespace Condense.Data;

/// <summary>How to read a CSV data set with one sample per line.</summary>
public sealed record CsvOptions
{
    /// <summary>Index of the label column; -1 means the last column. Default 0.</summary>
    public int LabelColumn { get; init; }

    /// <summary>True: the first line is a header; false: it is data; null (default): a header if any field is not a number.</summary>
    public bool? HasHeader { get; init; }

    /// <summary>The field separator. Default ','.</summary>
    public char Delimiter { get; init; } = ',';

    /// <summary>Multiplies every feature, e.g. 1/255 for pixels. Default: none.</summary>
    public float? FeatureScale { get; init; }

    /// <summary>The shape of one sample, e.g. [1, 28, 28]; its size must equal the feature count. Default: [features].</summary>
    public int[]? SampleShape { get; init; }
}
