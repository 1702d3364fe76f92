// `fuzz`: the reader fuzz tests at scale, on demand. The same seeds, mutators and contract as
// tests/Condense.Tests/Fuzzing (linked into this project as source), 100,000 cases per reader by default.
// Prints per reader: cases, parsed, rejected with InvalidFileException, and each kind of failure with
// the case seeds that reproduce it (FuzzHarness.Mutate(FuzzTargets.Create(reader, dir), seed)).
using System.Diagnostics;
using Condense.Fuzzing;

namespace Condense.Bench;

internal static class FuzzBench
{
    public static int Run(string[] args)
    {
        int cases = 100_000, firstSeed = 1_000_000;
        double timeoutSeconds = 30;
        var readers = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--cases": cases = int.Parse(args[++i]); break;
                case "--seed": firstSeed = int.Parse(args[++i]); break;
                case "--timeout": timeoutSeconds = double.Parse(args[++i]); break;
                case "--reader": readers.Add(args[++i]); break;
                default:
                    Console.Error.WriteLine($"usage: fuzz [--cases N] [--seed S] [--timeout SECONDS] [--reader {string.Join("|", FuzzTargets.Names)}]...");
                    return 2;
            }
        }
        if (readers.Count == 0) readers.AddRange(FuzzTargets.Names);
        var scratch = Directory.CreateTempSubdirectory("condense-fuzz-");
        int failed = 0;
        try
        {
            Console.WriteLine($"{"reader",-12} {"cases",9} {"parsed",9} {"rejected",9} {"failures",9} {"max alloc",10} {"of budget",9} {"seconds",8}");
            foreach (var name in readers)
            {
                var target = FuzzTargets.Create(name, scratch.FullName);
                var watch = Stopwatch.StartNew();
                var stats = FuzzHarness.Run(target, firstSeed, cases, scratch.FullName, TimeSpan.FromSeconds(timeoutSeconds));
                Console.WriteLine($"{name,-12} {stats.Cases,9:N0} {stats.Parsed,9:N0} {stats.Rejected,9:N0} {stats.Failures.Count,9:N0} " +
                    $"{stats.MaxAllocated / 1048576.0,6:F1} MiB {stats.MaxBudgetUsed,9:P0} {watch.Elapsed.TotalSeconds,8:F1}");
                foreach (var group in stats.Failures.GroupBy(f => f.Outcome))
                {
                    Console.WriteLine($"  {group.Key}: {group.Count()} (seeds {string.Join(", ", group.Take(10).Select(f => f.CaseSeed))})");
                    foreach (var f in group.DistinctBy(f => f.Detail.Length > 80 ? f.Detail[..80] : f.Detail).Take(5)) Console.WriteLine($"    {f}");
                }
                failed += stats.Failures.Count;
            }
        }
        finally
        {
            try { scratch.Delete(recursive: true); } catch (IOException) { } // a hung case may still hold its file
        }
        return failed == 0 ? 0 : 1;
    }
}
