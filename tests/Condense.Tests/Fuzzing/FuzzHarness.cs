// Runs seeded mutations of valid files through a reader and checks the contract every reader keeps:
// a case either parses or ends in InvalidFileException with a one-line message; any other exception,
// a multi-line message, allocating more than AllocationBudget(file size) plus the target's fixed allowance on the reading thread, or not
// finishing within the per-case timeout is a failure, reported with the case seed that reproduces it.
// Shared by the tests (2,000 cases per reader) and `bench fuzz` (100,000 on demand), linked as source.
namespace Condense.Fuzzing;

/// <summary>What one fuzz case did.</summary>
public enum FuzzOutcome
{
    /// <summary>The mutated file still parsed (allowed).</summary>
    Parsed,
    /// <summary>The reader rejected it with a one-line InvalidFileException (allowed).</summary>
    Rejected,
    /// <summary>Another exception type escaped the reader.</summary>
    WrongException,
    /// <summary>An InvalidFileException whose message spans several lines.</summary>
    MultiLineMessage,
    /// <summary>The reading thread allocated more than the budget for the file's size.</summary>
    OverAllocation,
    /// <summary>The case did not finish within the timeout.</summary>
    Timeout,
}

/// <summary>A reader under test: a name, the extension its files need, valid seed files, and the read itself.</summary>
/// <param name="Name">The reader's name, e.g. "onnx".</param>
/// <param name="Extension">The file extension the reader expects, e.g. ".onnx".</param>
/// <param name="Seeds">Valid files to mutate, by name.</param>
/// <param name="Read">Reads a file fully (as a command would), throwing on a bad one.</param>
/// <param name="Format">The format-aware mutators of this reader.</param>
/// <param name="Allowance">Bytes a read may allocate beyond <see cref="FuzzHarness.AllocationBudget"/> whatever the file's size
/// (an image decodes to its raster, up to a fixed number of pixels, from however few bytes).</param>
public sealed record FuzzTarget(string Name, string Extension, IReadOnlyList<(string Name, byte[] Bytes)> Seeds, Action<string> Read, Mutator[] Format,
    long Allowance = 0);

/// <summary>A case that broke the contract, with everything needed to reproduce it.</summary>
public sealed record FuzzFailure(string Reader, string Seed, int CaseSeed, FuzzOutcome Outcome, string Detail)
{
    /// <inheritdoc />
    public override string ToString() => $"{Reader} case seed {CaseSeed} (from {Seed}): {Outcome}: {Detail}";
}

/// <summary>Counts of a fuzz run over one reader.</summary>
public sealed class FuzzStats(string reader)
{
    /// <summary>The reader's name.</summary>
    public string Reader { get; } = reader;
    /// <summary>Cases run.</summary>
    public int Cases { get; set; }
    /// <summary>Cases whose file still parsed.</summary>
    public int Parsed { get; set; }
    /// <summary>Cases rejected with a one-line InvalidFileException.</summary>
    public int Rejected { get; set; }
    /// <summary>Cases that broke the contract.</summary>
    public List<FuzzFailure> Failures { get; } = [];
    /// <summary>The most a case allocated on its reading thread, in bytes.</summary>
    public long MaxAllocated { get; set; }
    /// <summary>The largest allocation of a case as a fraction of its budget.</summary>
    public double MaxBudgetUsed { get; set; }
}

/// <summary>Mutates seed files and runs them through a reader under a timeout and an allocation budget.</summary>
public static class FuzzHarness
{
    /// <summary>
    /// The most a read may allocate for a file of <paramref name="fileBytes"/>: 64× its size plus 96 MiB.
    /// Formats legitimately expand 32× (a 1-bit bitmap or index decoded to float32) and a load holds about two
    /// copies; the constant covers a model's graph, the dry run, and the sparse allowance of SparseStorage.
    /// </summary>
    public static long AllocationBudget(long fileBytes) => 64 * fileBytes + (96L << 20);

    /// <summary>The file of case <paramref name="caseSeed"/>: a seed picked and 1 to 3 mutations applied, all drawn from the case seed.</summary>
    public static (string Seed, byte[] Bytes) Mutate(FuzzTarget target, int caseSeed)
    {
        var rng = new Random(caseSeed);
        var (name, data) = target.Seeds[rng.Next(target.Seeds.Count)];
        for (int n = rng.Next(1, 4); n > 0; n--)
        {
            var pool = rng.Next(2) == 0 ? target.Format : Mutators.Generic;
            data = pool[rng.Next(pool.Length)](rng, data);
        }
        return (name, data);
    }

    /// <summary>
    /// Runs <paramref name="cases"/> cases with seeds from <paramref name="firstSeed"/> on, writing each file into
    /// <paramref name="directory"/>. <paramref name="onFailure"/> sees each failure as it happens.
    /// </summary>
    public static FuzzStats Run(FuzzTarget target, int firstSeed, int cases, string directory, TimeSpan timeout, Action<FuzzFailure>? onFailure = null)
    {
        var stats = new FuzzStats(target.Name);
        string path = Path.Combine(directory, "case" + target.Extension);
        for (int i = 0; i < cases; i++)
        {
            int caseSeed = firstSeed + i;
            var (seed, bytes) = Mutate(target, caseSeed);
            var (outcome, detail, allocated) = RunCase(target, bytes, path, timeout);
            stats.Cases++;
            stats.MaxAllocated = Math.Max(stats.MaxAllocated, allocated);
            stats.MaxBudgetUsed = Math.Max(stats.MaxBudgetUsed, (double)allocated / (AllocationBudget(bytes.Length) + target.Allowance));
            if (outcome == FuzzOutcome.Parsed) stats.Parsed++;
            else if (outcome == FuzzOutcome.Rejected) stats.Rejected++;
            else
            {
                var failure = new FuzzFailure(target.Name, seed, caseSeed, outcome, detail);
                stats.Failures.Add(failure);
                onFailure?.Invoke(failure);
                // A hung reader may still hold the file: carry on with a fresh one.
                if (outcome == FuzzOutcome.Timeout) path = Path.Combine(directory, $"case{caseSeed}{target.Extension}");
            }
        }
        return stats;
    }

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> and reads it on a worker thread, classifying what happened.</summary>
    public static (FuzzOutcome Outcome, string Detail, long Allocated) RunCase(FuzzTarget target, byte[] bytes, string path, TimeSpan timeout)
    {
        File.WriteAllBytes(path, bytes);
        (FuzzOutcome, string) result = (FuzzOutcome.Timeout, $"no result within {timeout.TotalSeconds:F0} s");
        long allocated = 0;
        var worker = new Thread(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            result = Classify(target, path);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }, 16 << 20) { IsBackground = true, Name = "fuzz case" };
        worker.Start();
        if (!worker.Join(timeout)) return (FuzzOutcome.Timeout, result.Item2, 0);
        var (outcome, detail) = result;
        long budget = AllocationBudget(bytes.Length) + target.Allowance;
        if (outcome is FuzzOutcome.Parsed or FuzzOutcome.Rejected && allocated > budget)
            return (FuzzOutcome.OverAllocation, $"allocated {allocated:N0} bytes for a file of {bytes.Length:N0} (budget {budget:N0}); {detail}", allocated);
        return (outcome, detail, allocated);
    }

    private static (FuzzOutcome, string) Classify(FuzzTarget target, string path)
    {
        try
        {
            target.Read(path);
            return (FuzzOutcome.Parsed, "parsed");
        }
        catch (InvalidFileException e)
        {
            return e.Message.Contains('\n') || e.Message.Contains('\r')
                ? (FuzzOutcome.MultiLineMessage, e.Message.ReplaceLineEndings("⏎"))
                : (FuzzOutcome.Rejected, e.Message);
        }
        catch (Exception e)
        {
            string at = e.StackTrace?.Split('\n').FirstOrDefault()?.Trim() ?? "";
            return (FuzzOutcome.WrongException, $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")} {at}");
        }
    }
}
