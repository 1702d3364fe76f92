// Timing helpers shared by the benchmarks: warm up, then repeat short runs until enough time has passed
// and report the fastest. The bench machine is shared with other jobs, so slow samples measure them,
// not us; the best run is the closest estimate of what the code can do.
using System.Diagnostics;

namespace Condense.Bench;

/// <summary>Wall-clock measurement of small actions.</summary>
internal static class Timing
{
    /// <summary>Best seconds per call of <paramref name="action"/> over batches run for at least <paramref name="minSeconds"/>.</summary>
    public static double MeasureSeconds(Action action, double minSeconds = 0.3)
    {
        action();   // JIT, caches, lazily grown buffers
        // Batch calls so that one sample lasts at least ~1 ms and the clock's resolution does not matter.
        var sw = Stopwatch.StartNew();
        action();
        double once = Math.Max(sw.Elapsed.TotalSeconds, 1e-7);
        int batch = (int)Math.Clamp(1e-3 / once, 1, 100_000);
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < minSeconds || samples.Count < 3)
        {
            sw.Restart();
            for (int i = 0; i < batch; i++) action();
            samples.Add(sw.Elapsed.TotalSeconds / batch);
        }
        return samples.Min();
    }

    /// <summary>The CPU's highest clock in GHz from /proc/cpuinfo ("cpu MHz"), or <paramref name="fallback"/>.</summary>
    public static double CpuGhz(double fallback = 3.6)
    {
        try
        {
            double mhz = File.ReadLines("/proc/cpuinfo")
                .Where(l => l.StartsWith("cpu MHz", StringComparison.Ordinal))
                .Select(l => double.Parse(l[(l.IndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
                .DefaultIfEmpty(0).Max();
            return mhz > 0 ? mhz / 1000 : fallback;
        }
        catch (IOException) { return fallback; }
        catch (UnauthorizedAccessException) { return fallback; }
    }
}
