// `--report DIR` of the commands that compress: the folder is checked before any work, as every output is
// (OutputPaths: not an input, writable), and no file of the report may land on the input or output model.
namespace Condense.Cli.Reporting;

/// <summary>Where a command writes its HTML report and what it ran on.</summary>
/// <param name="Folder">The report folder (created when missing).</param>
/// <param name="Command">The command's name ("prune", "quantize", …).</param>
/// <param name="InputModel">The model the command read.</param>
internal sealed record ReportRequest(string Folder, string Command, string InputModel)
{
    /// <summary>The option's help text, the same on every command.</summary>
    public const string Help = "Write report.html (plots, tables, the command line, versions, machine, timings; self-contained) "
        + "and each plot as PNG and SVG into DIR.";

    /// <summary>The HTML page inside the folder.</summary>
    public string Page => Path.Combine(Folder, "report.html");

    /// <summary>
    /// Null without <paramref name="folder"/>; otherwise checks the folder and its report.html against the input model (and
    /// any <paramref name="otherModels"/> the command reads) before the run starts, and returns the request.
    /// </summary>
    public static ReportRequest? Check(string? folder, string command, string inputModel, params string[] otherModels)
    {
        if (folder is null) return null;
        RunInput[] inputs = [new("input model", inputModel), .. otherModels.Select(m => new RunInput("model", m))];
        OutputPaths.CheckFolder(folder, inputs);
        var request = new ReportRequest(folder, command, inputModel);
        if (Directory.Exists(folder)) OutputPaths.CheckFile(request.Page, inputs);
        return request;
    }

    /// <summary>Throws when writing <paramref name="file"/> would overwrite the input model or <paramref name="output"/>.</summary>
    public void CheckTarget(string file, string output) =>
        OutputPaths.CheckFile(file, new RunInput("input model", InputModel), new RunInput("output", output));
}
