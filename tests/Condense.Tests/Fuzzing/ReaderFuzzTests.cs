// Fuzzing as a test: 2,000 seeded mutations per reader (FuzzHarness: ONNX, safetensors, IDX, NPY, CSV, image files,
// text files, WordPiece vocabularies, sensitivity reports), each of which must parse or end in
// a one-line InvalidFileException, within the allocation budget and the per-case timeout. A failure lists
// the case seeds; FuzzHarness.Mutate(FuzzTargets.Create(reader, dir), seed) rebuilds the file.
// `dotnet run -c Release --project bench/Condense.Bench -- fuzz` runs 100,000 per reader on demand.
using Condense.Fuzzing;
using Condense.Tests.Formats;

namespace Condense.Tests.Fuzzing;

public sealed class ReaderFuzzTests : IDisposable
{
    private const int Cases = 2_000;
    private readonly ScratchDir _dir = new();
    public void Dispose() => _dir.Dispose();

    // An image or a text with a flipped pixel or letter is still a valid file, so fewer of those cases are rejected.
    [Theory]
    [InlineData("onnx", 0.5)]
    [InlineData("safetensors", 0.5)]
    [InlineData("idx", 0.5)]
    [InlineData("npy", 0.5)]
    [InlineData("csv", 0.5)]
    [InlineData("image", 0.3)]
    [InlineData("text", 0.3)]
    [InlineData("vocab", 0.5)]
    [InlineData("tokenizer", 0.3)]
    [InlineData("sensitivity", 0.5)]
    public void MutatedFilesParseOrFailWithAOneLineInvalidFileException(string reader, double rejectedAtLeast)
    {
        var target = FuzzTargets.Create(reader, _dir.Path);
        // A hang, not slowness, is what the timeout catches: it is far above any case's time on a loaded machine.
        var stats = FuzzHarness.Run(target, firstSeed: 1, Cases, _dir.Path, TimeSpan.FromSeconds(60));
        Assert.True(stats.Failures.Count == 0,
            $"{stats.Failures.Count} of {Cases} cases broke the contract:\n{string.Join("\n", stats.Failures.Take(10))}");
        Assert.Equal(Cases, stats.Parsed + stats.Rejected);
        // The mutations must really reach the readers' checks; a fuzzer whose files all parse tests nothing.
        Assert.True(stats.Rejected > rejectedAtLeast * Cases, $"only {stats.Rejected} of {Cases} mutated files were rejected");
    }

    [Fact]
    public void TheSameCaseSeedGivesTheSameFile()
    {
        var target = FuzzTargets.Create("safetensors", _dir.Path);
        for (int seed = 0; seed < 20; seed++)
            Assert.Equal(FuzzHarness.Mutate(target, seed).Bytes, FuzzHarness.Mutate(target, seed).Bytes);
    }

    [Fact]
    public void EverySeedFileIsValid()
    {
        foreach (var name in FuzzTargets.Names)
        {
            var target = FuzzTargets.Create(name, _dir.Path);
            foreach (var (seed, bytes) in target.Seeds)
            {
                var (outcome, detail, _) = FuzzHarness.RunCase(target, bytes, _dir.File("seed" + target.Extension), TimeSpan.FromSeconds(60));
                Assert.True(outcome == FuzzOutcome.Parsed, $"{name} seed {seed}: {outcome}: {detail}");
            }
        }
    }

    [Fact]
    public void TheHarnessReportsEachKindOfFailure()
    {
        FuzzTarget Target(Action<string> read) => new("test", ".bin", [("x", [1, 2, 3])], read, Mutators.Generic);
        FuzzOutcome Run(Action<string> read, string file = "case.bin", double seconds = 60) =>
            FuzzHarness.RunCase(Target(read), [1], _dir.File(file), TimeSpan.FromSeconds(seconds)).Outcome;
        Assert.Equal(FuzzOutcome.WrongException, Run(_ => throw new IndexOutOfRangeException()));
        Assert.Equal(FuzzOutcome.Rejected, Run(p => throw new InvalidFileException(p, "bad")));
        Assert.Equal(FuzzOutcome.OverAllocation, Run(_ => GC.KeepAlive(new byte[200 << 20])));
        Assert.Equal(FuzzOutcome.Timeout, Run(_ => Thread.Sleep(Timeout.Infinite), "hang.bin", 0.2));
        Assert.Equal(FuzzOutcome.Parsed, Run(_ => { }));
    }
}
