// Where a command writes: tables and progress go to stdout for people, or to stderr when --json asks
// for one JSON object on stdout. JSON keys are snake_case (documented in the README), named by the
// library's reports and serialised with its options (Reports/ReportJson). A pass's report also goes to the
// HTML report when the command was given `--report DIR`.
using System.Text.Json;
using System.Text.Json.Nodes;
using Condense.Cli.Reporting;
using Condense.Reports;
using Spectre.Console;

namespace Condense.Cli;

internal sealed class Output
{
    public static JsonSerializerOptions JsonOptions => ReportJson.Options;

    public Output(bool json)
    {
        Json = json;
        Console = Ranks.Create(json ? System.Console.Error : System.Console.Out);
        // Redirected output (logs, CI) would otherwise be cut to 80 columns and wrap every table.
        if (!Console.Profile.Capabilities.Interactive) Console.Profile.Width = Math.Max(Console.Profile.Width, 140);
    }

    /// <summary>True when the result goes to stdout as JSON.</summary>
    public bool Json { get; }

    /// <summary>The console for people: tables, progress, messages.</summary>
    public IAnsiConsole Console { get; }

    /// <summary>Where the pass's report also goes as HTML (`--report DIR`), or null.</summary>
    public ReportRequest? Report { get; set; }

    /// <summary>Whether a live progress bar can be drawn.</summary>
    public bool Interactive => Console.Profile.Capabilities.Interactive;

    /// <summary>
    /// When set, the result is kept instead of printed, for <see cref="PrintHeld"/> to add a section a command computes after its
    /// run (quantize --diagnose), so stdout still gets one JSON object.
    /// </summary>
    public bool HoldsResult { get; init; }

    private JsonObject? _held;
    private (string Output, object Report)? _heldReport;

    /// <summary>Writes the HTML report held by a command that diagnoses its result (quantize --diagnose), with the diagnosis.</summary>
    public void WriteHeldReport(Reports.Diagnosis.DiagnosisReport diagnosis)
    {
        if (Report is { } request && _heldReport is { } held) WriteReport(request, held.Output, held.Report, diagnosis);
    }

    private string WriteReport(ReportRequest request, string outputPath, object report, Reports.Diagnosis.DiagnosisReport? diagnosis)
    {
        string page = CommandReport.Write(request, outputPath, report, diagnosis);
        Console.MarkupLine($"report [bold]{Markup.Escape(page)}[/]");
        return page;
    }

    /// <summary>Prints the command's result as one JSON object on stdout when --json was given.</summary>
    public void Result(object result)
    {
        if (!Json) return;
        if (HoldsResult) _held = JsonSerializer.SerializeToNode(result, JsonOptions)?.AsObject();
        else System.Console.Out.WriteLine(JsonSerializer.Serialize(result, JsonOptions));
    }

    /// <summary>Prints the held result with <paramref name="key"/> set to <paramref name="value"/> when --json was given.</summary>
    public void PrintHeld(string key, JsonNode value)
    {
        if (!Json || _held is null) return;
        _held[key] = value;
        System.Console.Out.WriteLine(_held.ToJsonString(JsonOptions));
    }

    /// <summary>
    /// Prints a pass's report as the command's JSON result when --json was given: the file written and the warnings
    /// first, then the report's own keys, with each <paramref name="extra"/> key the command adds (a null value is left out)
    /// placed before the report key it names. With <see cref="Report"/> set, writes the HTML report first (its path under "report").
    /// </summary>
    public void Result(string outputPath, IReadOnlyList<string>? warnings, object report, params (string Key, object? Value, string Before)[] extra)
    {
        string? page = null;
        if (Report is { } request && HoldsResult) (_heldReport, page) = ((outputPath, report), request.Page);
        else if (Report is { } now) page = WriteReport(now, outputPath, report, null);
        if (!Json) return;
        var json = new JsonObject { ["output"] = outputPath };
        if (page is not null) json["report"] = page;
        if (warnings is not null) json["warnings"] = JsonSerializer.SerializeToNode(warnings, JsonOptions);
        foreach (var (key, value) in ReportJson.ToObject(report)) json[key] = value?.DeepClone();
        foreach (var (key, value, before) in extra)
        {
            if (value is null) continue;
            int at = json.IndexOf(before);
            json.Insert(at < 0 ? json.Count : at, key, JsonSerializer.SerializeToNode(value, JsonOptions));
        }
        if (HoldsResult) _held = json;
        else System.Console.Out.WriteLine(json.ToJsonString(JsonOptions));
    }

    /// <summary>
    /// Prints each warning as a `warning: …` line and returns them for the JSON result (null when there are none,
    /// so the key is left out).
    /// </summary>
    public IReadOnlyList<string>? Warnings(IReadOnlyList<string> warnings)
    {
        foreach (var w in warnings) Console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(w)}");
        return warnings.Count > 0 ? warnings : null;
    }

    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1 << 20 => $"{bytes / 1048576.0:F2} MiB",
        >= 1 << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}
