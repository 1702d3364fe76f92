// One self-contained HTML page per run: the plots embedded as data: URIs, the tables, the exact command line, the
// versions, the machine and the timings — no script, no stylesheet or font from the network, so it opens from disk
// anywhere and can be mailed as one file. Every piece of text is HTML-escaped.
using System.Net;
using System.Text;

namespace Condense.Plots;

/// <summary>Builds a self-contained HTML report section by section.</summary>
public sealed class HtmlReport
{
    private readonly StringBuilder _body = new();
    private readonly List<(string Key, string Value)> _facts = [];

    /// <summary>A report titled <paramref name="title"/>.</summary>
    public HtmlReport(string title)
    {
        ArgumentException.ThrowIfNullOrEmpty(title);
        Title = title;
    }

    /// <summary>The page's title and top heading.</summary>
    public string Title { get; }

    /// <summary>Adds a line to the run's facts at the top (command line, versions, machine, timings).</summary>
    public HtmlReport Fact(string key, string value)
    {
        _facts.Add((key, value));
        return this;
    }

    /// <summary>Adds the facts of <see cref="RunEnvironment.Describe"/> (versions and machine).</summary>
    public HtmlReport Environment()
    {
        foreach (var (key, value) in RunEnvironment.Describe()) Fact(key, value);
        return this;
    }

    /// <summary>Starts a section.</summary>
    public HtmlReport Heading(string text)
    {
        _body.Append("<h2>").Append(Escape(text)).AppendLine("</h2>");
        return this;
    }

    /// <summary>A paragraph of plain text.</summary>
    public HtmlReport Paragraph(string text)
    {
        _body.Append("<p>").Append(Escape(text)).AppendLine("</p>");
        return this;
    }

    /// <summary>
    /// A table; a cell that parses as a number is right-aligned. <paramref name="highlight"/> marks rows by index (bold).
    /// </summary>
    public HtmlReport Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, string? caption = null,
        IReadOnlySet<int>? highlight = null)
    {
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(rows);
        _body.AppendLine("<table>");
        if (caption is not null) _body.Append("<caption>").Append(Escape(caption)).AppendLine("</caption>");
        _body.Append("<tr>");
        foreach (var h in header) _body.Append("<th>").Append(Escape(h)).Append("</th>");
        _body.AppendLine("</tr>");
        int index = 0;
        foreach (var row in rows)
        {
            _body.Append(highlight?.Contains(index++) == true ? "<tr class=\"mark\">" : "<tr>");
            foreach (var cell in row) _body.Append(IsNumeric(cell) ? "<td class=\"n\">" : "<td>").Append(Escape(cell)).Append("</td>");
            _body.AppendLine("</tr>");
        }
        _body.AppendLine("</table>");
        return this;
    }

    /// <summary>
    /// A figure: the PNG embedded, the title as its caption, and links to the PNG and SVG files when
    /// <paramref name="filesFolder"/> (relative to the page) says where they were saved.
    /// </summary>
    public HtmlReport Figure(PlotImage image, string? filesFolder = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        _body.Append("<figure><img src=\"").Append(image.PngDataUri).Append("\" alt=\"").Append(Escape(image.Title)).AppendLine("\">");
        _body.Append("<figcaption>").Append(Escape(image.Title));
        if (filesFolder is not null)
        {
            string prefix = filesFolder.Length == 0 ? "" : filesFolder.TrimEnd('/') + "/";
            _body.Append(" (<a href=\"").Append(Escape(prefix + image.Name)).Append(".png\">PNG</a>, <a href=\"")
                .Append(Escape(prefix + image.Name)).Append(".svg\">SVG</a>)");
        }
        _body.AppendLine("</figcaption></figure>");
        return this;
    }

    /// <summary>The whole page.</summary>
    public string ToHtml()
    {
        var page = new StringBuilder();
        page.AppendLine("<!DOCTYPE html>").AppendLine("<html lang=\"en\"><head><meta charset=\"utf-8\">");
        page.Append("<title>").Append(Escape(Title)).AppendLine("</title>");
        page.AppendLine("<style>").AppendLine(Style).AppendLine("</style></head><body>");
        page.Append("<h1>").Append(Escape(Title)).AppendLine("</h1>");
        if (_facts.Count > 0)
        {
            page.AppendLine("<dl class=\"facts\">");
            foreach (var (key, value) in _facts)
                page.Append("<dt>").Append(Escape(key)).Append("</dt><dd>").Append(Escape(value)).AppendLine("</dd>");
            page.AppendLine("</dl>");
        }
        page.Append(_body);
        page.AppendLine("</body></html>");
        return page.ToString();
    }

    /// <summary>Writes the page to <paramref name="path"/> atomically.</summary>
    public void Save(string path) => AtomicFile.WriteText(path, ToHtml());

    private static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static bool IsNumeric(string cell) =>
        cell.Length > 0 && (char.IsAsciiDigit(cell[0]) || cell[0] is '-' or '−' && cell.Length > 1 && char.IsAsciiDigit(cell[1]));

    private const string Style = """
        body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
        h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
        dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; font-size: 0.9em; }
        dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; font-family: "DejaVu Sans Mono", monospace; word-break: break-all; }
        table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
        th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; } th { background: #f3f3f3; }
        td.n { text-align: right; font-variant-numeric: tabular-nums; } tr.mark td { font-weight: bold; }
        caption { text-align: left; font-weight: bold; padding-bottom: 0.3em; }
        figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
        figcaption { font-size: 0.9em; color: #555; }
        """;
}
