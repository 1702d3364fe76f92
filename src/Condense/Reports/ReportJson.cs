// The one JSON form of every report: snake_case keys (System.Text.Json's SnakeCaseLower), NaN and
// infinities as named literals. The CLI's --json prints a pass's report through these options, and the
// demo writes report.json with them, so a key is named in one place: the report record itself.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Condense.Reports;

/// <summary>Serializer options and helpers for reports as JSON.</summary>
public static class ReportJson
{
    /// <summary>Compact, snake_case, null values left out: one JSON object on a line, as the CLI prints it.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Indented, snake_case, nulls written: a report file meant to be read (the demo's report.json).</summary>
    public static JsonSerializerOptions Indented { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>A report as a JSON object (keys from <see cref="Options"/>), for a caller to add its own keys to.</summary>
    public static JsonObject ToObject(object report) =>
        JsonSerializer.SerializeToNode(report, report.GetType(), Options)?.AsObject()
        ?? throw new ArgumentException("a report must serialise to a JSON object", nameof(report));

    /// <summary>A report as one line of JSON.</summary>
    public static string Serialize(object report) => JsonSerializer.Serialize(report, report.GetType(), Options);
}
