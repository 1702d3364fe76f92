// Reads a labelled data set from CSV: one sample per line, one integer class label column and numeric
// features in the rest. Numbers use the invariant culture ("0.5", never "0,5"). Errors name the file,
// the line and, for a bad value, the column, so a user can open the file and fix it.
using System.Globalization;
using Condense.Tensors;

namespace Condense.Data;

/// <summary>Loads CSV files into a <see cref="Dataset"/>.</summary>
public static class CsvLoader
{
    /// <summary>Loads <paramref name="path"/>; see <see cref="CsvOptions"/> for the layout it expects.</summary>
    public static Dataset Load(string path, CsvOptions? options = null)
    {
        options ??= new CsvOptions();
        using var file = DataFile.OpenRead(path);
        using var reader = new StreamReader(file);
        return DataFile.Guard(path, () => Parse(reader, path, options));
    }

    private static Dataset Parse(TextReader reader, string path, CsvOptions options)
    {
        var features = new List<float>();
        var labels = new List<int>();
        int columns = -1, labelColumn = -1, lineNumber = 0;
        bool sawLine = false;
        float scale = options.FeatureScale ?? 1f;

        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string[] fields = line.Split(options.Delimiter);
            if (!sawLine)
            {
                sawLine = true;
                if (options.HasHeader ?? !fields.All(IsNumber)) continue;
            }
            if (columns < 0)
            {
                columns = fields.Length;
                if (columns < 2)
                    throw new InvalidFileException(path, $"line {lineNumber}: expected a label and at least one feature, found {columns} value");
                labelColumn = options.LabelColumn == -1 ? columns - 1 : options.LabelColumn;
                if (labelColumn < 0 || labelColumn >= columns)
                    throw new InvalidFileException(path, $"label column {options.LabelColumn} does not exist (rows have {columns} values)");
            }
            else if (fields.Length != columns)
            {
                throw new InvalidFileException(path, $"line {lineNumber}: expected {columns} values, found {fields.Length}");
            }

            for (int c = 0; c < columns; c++)
            {
                string field = fields[c].Trim();
                if (!double.TryParse(field, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value))
                    throw new InvalidFileException(path, $"line {lineNumber}, column {c + 1}: '{Clip(field)}' is not a finite number");
                if (c != labelColumn)
                    features.Add((float)value * scale);
                else if (value < 0 || value > int.MaxValue || value != Math.Floor(value))
                    throw new InvalidFileException(path, $"line {lineNumber}, column {c + 1}: label '{Clip(field)}' is not a non-negative integer");
                else
                    labels.Add((int)value);
            }
        }

        if (!sawLine) throw new InvalidFileException(path, "file is empty");
        if (labels.Count == 0) throw new InvalidFileException(path, "no data rows after the header");

        int featureCount = columns - 1;
        int[] sampleShape = options.SampleShape ?? [featureCount];
        if (Shape.Size(sampleShape) != featureCount)
            throw new InvalidFileException(path,
                $"sample shape {Shape.Format(sampleShape)} needs {Shape.Size(sampleShape)} features, rows have {featureCount}");
        return new Dataset(features.ToArray(), labels.ToArray(), sampleShape, Path.GetFileNameWithoutExtension(path));
    }

    private static bool IsNumber(string field) =>
        double.TryParse(field.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    // Keeps a long garbage field (say, a binary file read as text) from flooding the message.
    private static string Clip(string field) =>
        (field.Length <= 24 ? field : field[..24] + "…").ReplaceLineEndings(" ");
}
