// The ranks mpirun started, over Open MPI. Each collective is started nonblocking and polled: while it waits, rank 0
// also listens for a failure message from any rank (tag FailureTag), so a rank that throws ends the run with one line
// on rank 0 instead of leaving the others blocked in a collective; and every wait has a deadline (CONDENSE_MPI_TIMEOUT
// seconds, 300 by default), because MPI has no timeout of its own and a hung rank would otherwise hang the job.
using System.Diagnostics;
using System.Text;

namespace Condense.Distributed;

/// <summary>The world communicator of a run started by mpirun (Open MPI).</summary>
public sealed unsafe class MpiCommunicator : Communicator
{
    private const int FailureTag = 7919;
    private const int MaxMessageBytes = 4096;
    // Buckets of at most this many elements per MPI call: counts are C ints, and one bucket bounds the receive copy.
    private const int BucketElements = 1 << 24;
    private readonly int _rank, _size;
    private readonly TimeSpan _timeout;
    private bool _finished;

    internal MpiCommunicator(TimeSpan timeout)
    {
        OpenMpi.Load();
        int initialized, provided, rank, size;
        OpenMpi.MPI_Initialized(&initialized);
        if (initialized == 0) Check(OpenMpi.MPI_Init_thread(null, null, OpenMpi.ThreadFunneled, &provided), "MPI_Init_thread");
        OpenMpi.MPI_Comm_rank(OpenMpi.CommWorld, &rank);
        OpenMpi.MPI_Comm_size(OpenMpi.CommWorld, &size);
        (_rank, _size, _timeout) = (rank, size, timeout);
    }

    /// <inheritdoc/>
    public override int Rank => _rank;

    /// <inheritdoc/>
    public override int Size => _size;

    /// <summary>How long a collective may wait for the other ranks before the run ends.</summary>
    public TimeSpan Timeout => _timeout;

    /// <inheritdoc/>
    public override void AllReduce(Span<float> values, ReduceOp op = ReduceOp.Sum) => Reduce(values, OpenMpi.Float, op);

    /// <inheritdoc/>
    public override void AllReduce(Span<double> values, ReduceOp op = ReduceOp.Sum) => Reduce(values, OpenMpi.Double, op);

    /// <inheritdoc/>
    public override void AllReduce(Span<long> values, ReduceOp op = ReduceOp.Sum) => Reduce(values, OpenMpi.Int64, op);

    private void Reduce<T>(Span<T> values, nint type, ReduceOp op) where T : unmanaged
    {
        nint mpiOp = op switch { ReduceOp.Max => OpenMpi.Max, ReduceOp.Min => OpenMpi.Min, _ => OpenMpi.Sum };
        var received = ReceiveBuffer<T>(Math.Min(values.Length, BucketElements));
        for (int start = 0; start < values.Length; start += BucketElements)
        {
            var bucket = values.Slice(start, Math.Min(BucketElements, values.Length - start));
            nint request;
            fixed (T* send = bucket, receive = received)
            {
                Check(OpenMpi.MPI_Iallreduce(send, receive, bucket.Length, type, mpiOp, OpenMpi.CommWorld, &request), "MPI_Iallreduce");
                Wait(&request, "an all-reduce");
            }
            received.AsSpan(0, bucket.Length).CopyTo(bucket);
        }
    }

    // The receive side of a reduction, kept between calls: a step's all-reduce would otherwise allocate (and zero) a
    // buffer of the gradient's size every step.
    private readonly Dictionary<Type, Array> _received = [];

    private T[] ReceiveBuffer<T>(int length) where T : unmanaged
    {
        if (_received.TryGetValue(typeof(T), out var kept) && kept.Length >= length) return (T[])kept;
        var buffer = GC.AllocateUninitializedArray<T>(length);
        _received[typeof(T)] = buffer;
        return buffer;
    }

    /// <inheritdoc/>
    public override void Broadcast(Span<byte> bytes, int root = 0)
    {
        nint request;
        fixed (byte* buffer = bytes)
        {
            Check(OpenMpi.MPI_Ibcast(buffer, bytes.Length, OpenMpi.Byte, root, OpenMpi.CommWorld, &request), "MPI_Ibcast");
            Wait(&request, "a broadcast");
        }
    }

    // Polls the request. Open MPI moves a nonblocking collective on only inside MPI calls, so a rank that sleeps between
    // tests holds up every round of the all-reduce: test back to back for the first millisecond, then yield the core
    // between tests (to the other rank, when the cores are shared) up to 2 s (a rank still computing), then sleep 1 ms
    // a turn. Spinning longer was measured to halve the throughput of 2 ranks on 2 busy cores. Failure messages are
    // looked for every 64 turns.
    private void Wait(nint* request, string what)
    {
        long spinUntil = Stopwatch.Frequency / 1000, yieldUntil = 2 * Stopwatch.Frequency;
        var clock = Stopwatch.StartNew();
        byte* status = stackalloc byte[OpenMpi.StatusBytes];
        for (int turn = 0; ; turn++)
        {
            int done;
            Check(OpenMpi.MPI_Test(request, &done, status), "MPI_Test");
            if (done != 0) return;
            if ((turn & 63) == 0)
            {
                if (IsRoot) ThrowIfARankFailed();
                if (clock.Elapsed > _timeout)
                    throw new CondenseException($"rank {_rank}: {what} waited {_timeout.TotalSeconds:0} s for the other ranks "
                        + "(a rank hung or died; CONDENSE_MPI_TIMEOUT sets the limit)");
            }
            long waited = clock.ElapsedTicks;
            if (waited >= yieldUntil) Thread.Sleep(1);
            else if (waited >= spinUntil) Thread.Yield();
        }
    }

    private void ThrowIfARankFailed()
    {
        byte* status = stackalloc byte[OpenMpi.StatusBytes];
        int waiting;
        Check(OpenMpi.MPI_Iprobe(OpenMpi.AnySource, FailureTag, OpenMpi.CommWorld, &waiting, status), "MPI_Iprobe");
        if (waiting == 0) return;
        int source = OpenMpi.Source(status), length;
        OpenMpi.MPI_Get_count(status, OpenMpi.Byte, &length);
        var message = new byte[Math.Max(length, 1)];
        fixed (byte* buffer = message) OpenMpi.MPI_Recv(buffer, length, OpenMpi.Byte, source, FailureTag, OpenMpi.CommWorld, status);
        throw new RankFailedException(source, Encoding.UTF8.GetString(message, 0, length));
    }

    /// <inheritdoc/>
    public override void ReportFailure(string message)
    {
        if (IsRoot) return;
        var bytes = Encoding.UTF8.GetBytes(message);
        int length = Math.Min(bytes.Length, MaxMessageBytes);
        fixed (byte* buffer = bytes) OpenMpi.MPI_Send(buffer, length, OpenMpi.Byte, 0, FailureTag, OpenMpi.CommWorld);
        // Rank 0 reads the message at its next collective and ends the run; keep the library progressing until then.
        var clock = Stopwatch.StartNew();
        byte* status = stackalloc byte[OpenMpi.StatusBytes];
        while (clock.Elapsed < _timeout)
        {
            int flag;
            OpenMpi.MPI_Iprobe(OpenMpi.AnySource, FailureTag + 1, OpenMpi.CommWorld, &flag, status);
            Thread.Sleep(5);
        }
        Abort(1);
    }

    /// <inheritdoc/>
    public override void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        ProcessRole.RemoveScratch();
        OpenMpi.MPI_Abort(OpenMpi.CommWorld, exitCode);
        Environment.Exit(exitCode);
    }

    /// <inheritdoc/>
    public override void Finish()
    {
        if (_finished) return;
        _finished = true;
        Barrier();
        OpenMpi.MPI_Finalize();
    }

    private static void Check(int code, string call)
    {
        if (code != 0) throw new CondenseException($"{call} failed with MPI error {code}");
    }
}
