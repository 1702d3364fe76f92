// A sensitivity report read back from the JSON `condense sensitivity` writes (ReportJson's snake_case form), for
// `prune --sensitivity`. The file is checked before a budget is spread by it: every row names one tensor once and
// pairs each swept sparsity (in [0, 1]) with an accuracy (in [0, 1]), so a hand-edited or damaged file is one line
// naming the fault rather than an internal error deep in Sensitivity.AllocateBudget.
using System.Text.Json;
using Condense.Data;
using Condense.Reports;

namespace Condense.Pruning;

/// <summary>Reads sensitivity reports saved as JSON.</summary>
public static class SensitivityFile
{
    /// <summary>The report saved at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidFileException">The file is missing, not JSON, or not a well-formed sensitivity report.</exception>
    public static SensitivityReport Read(string path)
    {
        byte[] bytes;
        using (var stream = DataFile.OpenRead(path))
        {
            if (stream.Length > DataFile.MaxBytes) throw new InvalidFileException(path, "sensitivity report larger than 2 GB");
            bytes = new byte[stream.Length];
            if (DataFile.ReadUpTo(stream, bytes) != bytes.Length) throw new InvalidFileException(path, "file changed while it was read");
        }
        SensitivityReport? report;
        try { report = JsonSerializer.Deserialize<SensitivityReport>(bytes, ReportJson.Options); }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new InvalidFileException(path, $"not a sensitivity report ({DataFile.OneLine(e.Message)})");
        }
        if (report?.Rows is not { Count: > 0 }) throw new InvalidFileException(path, "not a sensitivity report (no rows)");
        if (!InUnitRange(report.BaselineAccuracy)) throw Fault(path, $"baseline accuracy {report.BaselineAccuracy} is not in [0, 1]");
        var tensors = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < report.Rows.Count; i++)
        {
            var row = report.Rows[i] ?? throw Fault(path, $"row {i + 1} is empty");
            if (string.IsNullOrWhiteSpace(row.Tensor)) throw Fault(path, $"row {i + 1} names no tensor");
            if (!tensors.Add(row.Tensor)) throw Fault(path, $"tensor '{row.Tensor}' has two rows");
            if (row.Parameters is <= 0 or > int.MaxValue) throw Fault(path, $"tensor '{row.Tensor}' has {row.Parameters} parameters");
            int swept = row.Sparsities?.Count ?? 0, measured = row.Accuracies?.Count ?? 0;
            if (swept == 0 || measured != swept)
                throw Fault(path, $"tensor '{row.Tensor}' needs one accuracy per swept sparsity ({swept} sparsities, {measured} accuracies)");
            foreach (double sparsity in row.Sparsities!)
                if (!InUnitRange(sparsity)) throw Fault(path, $"tensor '{row.Tensor}': sparsity {sparsity} is not in [0, 1]");
            foreach (float accuracy in row.Accuracies!)
                if (!InUnitRange(accuracy)) throw Fault(path, $"tensor '{row.Tensor}': accuracy {accuracy} is not in [0, 1]");
        }
        return report;
    }

    private static bool InUnitRange(double value) => value is >= 0 and <= 1;

    private static InvalidFileException Fault(string path, string fault) => new(path, $"not a sensitivity report: {fault}");
}
