// A tiny fork-join pool for the kernels: Cpu.Threads - 1 persistent workers plus the calling thread.
// Unlike Parallel.For it allocates nothing per call, and its workers spin briefly before sleeping (unless
// Cpu.WorkerSpin is off: on cores shared with other busy processes), which matters when training issues thousands of
// small GEMMs per second. A part is claimed by whoever gets to
// it first: after its own part the caller runs any part no worker has started, so a worker the OS has
// not scheduled (a busy machine) delays a call by no more than running that part. One job runs at a
// time; a call made while the pool is busy (another thread, or a nested call) runs its parts serially.
// Every job splits its output, not its sums, so who runs a part never changes the bits.
namespace Condense.Kernels.Platform;

/// <summary>Work that splits into independent numbered parts.</summary>
internal interface IParallelJob
{
    /// <summary>Runs part <paramref name="part"/>; parts must not write the same memory.</summary>
    void Execute(int part);
}

/// <summary>Runs the parts of a job on persistent worker threads and the caller.</summary>
internal static class WorkerPool
{
    private const int SpinCount = 2000;
    private static readonly ManualResetEventSlim s_done = new(false, SpinCount);
    private static readonly List<Worker> s_workers = [];
    private static int s_busy, s_pending, s_generation;
    private static Exception? s_error;

    /// <summary>Runs parts 0 .. parts-1 of <paramref name="job"/> and returns when all are done.</summary>
    public static void Run(IParallelJob job, int parts)
    {
        if (parts <= 1 || Interlocked.CompareExchange(ref s_busy, 1, 0) != 0)
        {
            for (int p = 0; p < parts; p++) job.Execute(p);
            return;
        }
        try
        {
            while (s_workers.Count < parts - 1) s_workers.Add(new Worker(s_workers.Count + 1));
            s_error = null;
            s_done.Reset();
            s_pending = parts - 1;
            int generation = ++s_generation;
            for (int p = 1; p < parts; p++) s_workers[p - 1].Start(job, p, generation);
            try
            {
                job.Execute(0);
                // Parts no worker has claimed yet: running them here beats waiting for a thread to be scheduled.
                for (int p = parts - 1; p >= 1; p--)
                {
                    if (!s_workers[p - 1].TryClaim(generation)) continue;
                    try { job.Execute(p); }
                    finally { Finish(); }
                }
            }
            finally { WaitForWorkers(); }
            if (s_error is { } e) throw new AggregateException("a kernel worker failed", e);
        }
        finally { Volatile.Write(ref s_busy, 0); }
    }

    // The caller may see the count reach zero before the last worker's Set, which then lands after the next
    // call's Reset; so the count, not the event, decides, and a stale wake-up only costs a re-check.
    private static void WaitForWorkers()
    {
        while (Volatile.Read(ref s_pending) != 0)
        {
            s_done.Wait();
            if (Volatile.Read(ref s_pending) != 0) s_done.Reset();
        }
    }

    private static void Finish()
    {
        if (Interlocked.Decrement(ref s_pending) == 0) s_done.Set();
    }

    private sealed class Worker
    {
        // A worker keeps spinning this long after its last part before it blocks: training issues a
        // parallel kernel every few hundred microseconds, and waking a sleeping thread costs tens of
        // microseconds (more in a virtual machine), so staying awake briefly is what makes small
        // parallel GEMMs pay. OpenMP runtimes and MLAS's thread pool spin for the same reason.
        private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 2000; // 0.5 ms

        private readonly ManualResetEventSlim _go = new(false, 0);
        private IParallelJob? _job;
        private int _part;
        private volatile int _sequence;
        // The generation whose part is open for claiming; its negation once the worker or the caller took it.
        private int _open;

        public Worker(int index) =>
            new Thread(Loop) { IsBackground = true, Name = $"Condense kernel worker {index}" }.Start();

        public void Start(IParallelJob job, int part, int generation)
        {
            _job = job; _part = part;
            Volatile.Write(ref _open, generation);
            _sequence = generation; // volatile write: publishes _job, _part and _open to a spinning worker
            _go.Set();              // wakes a blocked worker
        }

        /// <summary>Takes this worker's part of <paramref name="generation"/> if nobody has; true if it did.</summary>
        public bool TryClaim(int generation) => Interlocked.CompareExchange(ref _open, -generation, generation) == generation;

        private void Loop()
        {
            int seen = 0;
            while (true)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                bool spin = Cpu.WorkerSpin;
                while (_sequence == seen)
                {
                    if (spin && System.Diagnostics.Stopwatch.GetTimestamp() - start < SpinTicks) { Thread.SpinWait(16); continue; }
                    _go.Wait();
                    _go.Reset(); // Start bumps the sequence before Set, so the re-check cannot miss a job
                }
                seen = _sequence;
                // The job and part read after the sequence belong to it: a later call cannot have replaced them
                // unless this generation's part was claimed, and then the claim below fails.
                var job = _job;
                int part = _part;
                if (!TryClaim(seen)) continue;
                try { job!.Execute(part); }
                catch (Exception e) { s_error = e; }
                finally { Finish(); }
            }
        }
    }
}
