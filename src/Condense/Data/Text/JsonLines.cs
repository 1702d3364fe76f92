// JSON Lines corpora (jsonlines.org; Hugging Face datasets' to_json, most crawled corpora): one JSON object per line,
// the passage in its "text" field — or, in an object with one string field only, that field (a {"sentence": …} or
// {"content": …} file). A line that is not an object with such a field is a one-line error naming it: the JSON around
// a passage must never be read as its text.
using System.Text.Json;

namespace Condense.Data.Text;

internal static class JsonLines
{
    /// <summary>The passage of each line of a .jsonl file (lines already trimmed, blank ones dropped), in order.</summary>
    public static IReadOnlyList<string> Texts(IReadOnlyList<string> lines, string source)
    {
        var texts = new List<string>(lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            JsonDocument document;
            try { document = JsonDocument.Parse(lines[i]); }
            catch (JsonException e) { throw new InvalidFileException(source, $"JSON line {i + 1} does not parse: {e.Message.Split('\n')[0]}"); }
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new InvalidFileException(source, $"JSON line {i + 1} is not an object");
                var strings = root.EnumerateObject().Where(p => p.Value.ValueKind == JsonValueKind.String).ToList();
                var field = root.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String ? text
                    : strings.Count == 1 ? strings[0].Value
                    : throw new InvalidFileException(source, $"JSON line {i + 1} has no \"text\" field"
                        + (strings.Count > 1 ? $" (its string fields: {string.Join(", ", strings.Select(p => p.Name))})" : ""));
                // A passage is one line of text: its own line breaks become spaces, as the text reader never sees them.
                string passage = string.Join(' ', field.GetString()!.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).Trim();
                if (passage.Length > 0) texts.Add(passage);
            }
        }
        if (texts.Count == 0) throw new InvalidFileException(source, "no passages: every line's text is empty");
        return texts;
    }
}
