// Renders a page in Debian's headless Chromium, as a person opening report.html would see it: a screenshot, and the
// DOM after load with a probe appended that records every image's state (complete with a natural width, or broken)
// and any script error or console.error. The probe goes into a copy of the page; the report itself has no script.
using System.Diagnostics;
using System.Text.Json;

namespace Condense.Tests.Plots;

public static class HeadlessChromium
{
    /// <summary>The browser's path, or null when it is not installed.</summary>
    public static string? Executable { get; } = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    /// <summary>What the probe found after load.</summary>
    public sealed record PageCheck(int Images, IReadOnlyList<string> Broken, IReadOnlyList<string> Errors);

    private const string Probe = """
        <script>
        window.__errors = [];
        window.addEventListener('error', e => window.__errors.push(String(e.message || e.type)), true);
        const consoleError = console.error;
        console.error = (...args) => { window.__errors.push(args.join(' ')); consoleError(...args); };
        window.addEventListener('load', () => {
          const images = Array.from(document.images);
          const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt || i.src.slice(0, 40));
          const out = document.createElement('pre');
          out.id = 'condense-probe';
          out.textContent = JSON.stringify({ images: images.length, broken: broken, errors: window.__errors });
          document.body.appendChild(out);
        });
        </script>
        """;

    /// <summary>Loads a copy of <paramref name="page"/> with the probe and returns what it recorded.</summary>
    public static PageCheck Check(string page, string workDir)
    {
        string html = File.ReadAllText(page);
        int head = html.IndexOf("<head>", StringComparison.Ordinal);
        Assert.True(head >= 0, "the page has no <head>");
        string probed = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(page))!, ".probe-" + Path.GetFileName(page));
        File.WriteAllText(probed, html.Insert(head + "<head>".Length, Probe));
        try
        {
            string dom = Run(workDir, "--dump-dom", new Uri(probed).AbsoluteUri);
            int start = dom.IndexOf("<pre id=\"condense-probe\">", StringComparison.Ordinal);
            Assert.True(start >= 0, "the probe did not run: " + dom[..Math.Min(dom.Length, 300)]);
            start = dom.IndexOf('>', start) + 1;
            string json = System.Net.WebUtility.HtmlDecode(dom[start..dom.IndexOf("</pre>", start, StringComparison.Ordinal)]);
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            return new PageCheck(root.GetProperty("images").GetInt32(),
                root.GetProperty("broken").EnumerateArray().Select(e => e.GetString()!).ToList(),
                root.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList());
        }
        finally { File.Delete(probed); }
    }

    /// <summary>Takes a screenshot of <paramref name="page"/> (width × height pixels) into <paramref name="png"/>.</summary>
    public static void Screenshot(string page, string png, string workDir, int width = 1200, int height = 1600) =>
        Run(workDir, $"--screenshot={png}", $"--window-size={width},{height}", new Uri(Path.GetFullPath(page)).AbsoluteUri);

    // One headless run with its own profile folder (so parallel runs never share one); root needs --no-sandbox.
    private static string Run(string workDir, params string[] args)
    {
        var info = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("chromium is not installed"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workDir,
        };
        string profile = Directory.CreateTempSubdirectory("condense-chromium-").FullName;
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                     "--allow-file-access-from-files", "--virtual-time-budget=10000", $"--user-data-dir={profile}" })
            info.ArgumentList.Add(a);
        foreach (var a in args) info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(120_000)) { process.Kill(true); throw new TimeoutException("chromium did not finish"); }
            Assert.True(process.ExitCode == 0, $"chromium exited with {process.ExitCode}: {stderr.Result}");
            return stdout.Result;
        }
        finally { Directory.Delete(profile, recursive: true); }
    }
}

/// <summary>
/// A test that needs Chromium: skipped with a message when it is missing on a developer's machine, run (and failing
/// clearly) under CI, where .ci/run installs it.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (HeadlessChromium.Executable is null && Environment.GetEnvironmentVariable("CI") != "true")
            Skip = "chromium is not installed: `apt-get install chromium` (.ci/run installs it in CI)";
    }
}
