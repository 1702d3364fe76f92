// WorkerPool: every part of every job runs exactly once and Run returns only after all of them, whether a
// worker or the caller (which takes parts no worker has started) runs it; calls from several threads at
// once, back to back and after the workers have gone to sleep; a failing part surfaces as an exception.
using Condense.Kernels.Platform;

namespace Condense.Tests.Kernels;

public class WorkerPoolTests
{
    /// <summary>Counts how often each part ran.</summary>
    private sealed class CountingJob(int parts, int spin) : IParallelJob
    {
        public readonly int[] Runs = new int[parts];

        public void Execute(int part)
        {
            Thread.SpinWait(spin);
            Interlocked.Increment(ref Runs[part]);
        }
    }

    private sealed class FailingJob : IParallelJob
    {
        public void Execute(int part)
        {
            if (part == 1) throw new InvalidOperationException("part 1 fails");
        }
    }

    [Theory]
    [InlineData(2, 0)]
    [InlineData(2, 200)]
    [InlineData(4, 50)]
    public void EveryPartRunsOnceBeforeRunReturns(int parts, int spin)
    {
        for (int call = 0; call < 2000; call++)
        {
            var job = new CountingJob(parts, spin);
            WorkerPool.Run(job, parts);
            Assert.All(job.Runs, runs => Assert.Equal(1, runs));
        }
    }

    [Fact]
    public void ConcurrentCallersEachGetAllTheirParts()
    {
        var failures = 0;
        var threads = Enumerable.Range(0, 3).Select(_ => new Thread(() =>
        {
            for (int call = 0; call < 1000; call++)
            {
                var job = new CountingJob(3, 20);
                WorkerPool.Run(job, 3);
                if (job.Runs.Any(r => r != 1)) Interlocked.Increment(ref failures);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(0, failures);
    }

    [Fact]
    public void WorkersAsleepStillRunTheirParts()
    {
        for (int call = 0; call < 3; call++)
        {
            Thread.Sleep(5); // longer than the workers spin
            var job = new CountingJob(2, 1000);
            WorkerPool.Run(job, 2);
            Assert.All(job.Runs, runs => Assert.Equal(1, runs));
        }
    }

    [Fact]
    public void AFailingPartThrows()
    {
        // The caller may run part 1 itself (its exception as is) or a worker may (wrapped); either way Run throws.
        var e = Record.Exception(() => WorkerPool.Run(new FailingJob(), 2));
        Assert.NotNull(e);
        Assert.Contains("part 1 fails", e.InnerException?.Message ?? e.Message);
        var job = new CountingJob(2, 0);
        WorkerPool.Run(job, 2);
        Assert.All(job.Runs, runs => Assert.Equal(1, runs));
    }

    // Cpu.Hold gives a worker running part of a call the caller's kernel path and int8 dot product (a test forces them on
    // its own thread, which workers never read), and restores the worker's own afterwards.
    [Fact]
    public void HoldGivesAWorkerItsCallersKernelSettings()
    {
        var path = Cpu.SupportedPaths[0];
        var dot = Enum.GetValues<Int8Dot>().First(Cpu.Supports);
        KernelPath? inside = null, after = null;
        Int8Dot? dotInside = null;
        bool unchanged = false;
        var worker = new Thread(() =>
        {
            var own = (Cpu.Active, Cpu.ActiveInt8Dot);
            unchanged = Cpu.Hold(own.Active, own.ActiveInt8Dot) is null;
            using (Cpu.Hold(path, dot)) (inside, dotInside) = (Cpu.Active, Cpu.ActiveInt8Dot);
            after = Cpu.Active;
        });
        worker.Start();
        worker.Join();
        Assert.True(unchanged);
        Assert.Equal(path, inside);
        Assert.Equal(dot, dotInside);
        Assert.Equal(Cpu.Best, after);
    }
}
