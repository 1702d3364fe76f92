// A pass's report in the HTML page, whatever the pass: its JSON form (the keys `--json` prints) laid out as
// tables — the scalars as one summary table, each list of objects (tensors, layers, models) as a table of its
// own, nested objects flattened into dotted keys. A new field of a report appears in the page without code here.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Condense.Plots;
using Condense.Reports;

namespace Condense.Cli.Reporting;

internal static class JsonTables
{
    /// <summary>Adds <paramref name="report"/> as tables to <paramref name="page"/>.</summary>
    public static void Add(HtmlReport page, object report)
    {
        var summary = new List<IReadOnlyList<string>>();
        var lists = new List<(string Key, JsonArray Rows)>();
        Flatten(ReportJson.ToObject(report), "", summary, lists);
        page.Heading("Summary").Table(["", "value"], summary);
        foreach (var (key, rows) in lists)
        {
            var objects = rows.OfType<JsonObject>().ToList();
            var columns = objects.SelectMany(o => o.Select(p => p.Key)).Distinct().ToList();
            page.Heading(key.Replace('_', ' ')).Table(columns.Select(c => c.Replace('_', ' ')).ToList(),
                objects.Select(o => (IReadOnlyList<string>)columns.Select(c => Format(o[c])).ToList()));
        }
    }

    private static void Flatten(JsonObject json, string prefix, List<IReadOnlyList<string>> summary, List<(string, JsonArray)> lists)
    {
        foreach (var (key, value) in json)
        {
            string name = prefix + key;
            switch (value)
            {
                case JsonObject inner: Flatten(inner, name + ".", summary, lists); break;
                case JsonArray array when array.Count > 0 && array.All(e => e is JsonObject): lists.Add((name, array)); break;
                default: summary.Add([name.Replace('_', ' '), Format(value)]); break;
            }
        }
    }

    private static string Format(JsonNode? value) => value switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) =>
            d == Math.Floor(d) && Math.Abs(d) < 1e15 ? d.ToString("N0", CultureInfo.InvariantCulture) : d.ToString("G5", CultureInfo.InvariantCulture),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonArray a when a.All(e => e is JsonValue) => string.Join(", ", a.Select(Format)),
        _ => value.ToJsonString(),
    };
}
