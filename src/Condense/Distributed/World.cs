// Which ranks this process belongs to. A process started by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE) joins the
// others when the command line starts it; anything else is a single process. One ambient communicator, as
// torch.distributed's default group, because data parallelism reaches into every training loop, evaluation and
// calibration pass; code that never asks stays single-process.
namespace Condense.Distributed;

/// <summary>The communicator of this process's run.</summary>
public static class World
{
    /// <summary>The default limit of a collective's wait for the other ranks.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(300);

    /// <summary>This process's communicator: <see cref="SingleProcess"/> until <see cref="Start"/> joins an MPI run.</summary>
    public static Communicator Current { get; private set; } = SingleProcess.Instance;

    /// <summary>Whether mpirun started this process with other ranks (read from Open MPI's environment).</summary>
    public static bool LaunchedByMpi => LaunchedSize() > 1;

    /// <summary>
    /// Joins the run mpirun started, if it started one of more than one rank; non-root ranks stop writing the user's
    /// files (<see cref="ProcessRole"/>). Returns <see cref="Current"/>.
    /// </summary>
    public static Communicator Start()
    {
        if (Current.IsDistributed || !LaunchedByMpi) return Current;
        var communicator = new MpiCommunicator(TimeoutFromEnvironment());
        Current = communicator;
        // Ranks on one machine share its cores: each takes its part unless DOTNET_PROCESSOR_COUNT says otherwise.
        if (Environment.GetEnvironmentVariable("DOTNET_PROCESSOR_COUNT") is null
            && int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int local) && local > 1)
            Kernels.Platform.Cpu.Threads = Math.Max(1, Environment.ProcessorCount / local);
        ProcessRole.WritesOutputs = communicator.IsRoot;
        return communicator;
    }

    /// <summary>
    /// Until disposed, <see cref="Current"/> is this process alone: for work a rank was handed whole (a layer of a
    /// sensitivity sweep), whose evaluations must not be split again over ranks that are busy with their own.
    /// </summary>
    public static IDisposable Alone()
    {
        var previous = Current;
        Current = SingleProcess.Instance;
        return new Restore(previous);
    }

    private sealed class Restore(Communicator previous) : IDisposable
    {
        public void Dispose() => Current = previous;
    }

    private static int LaunchedSize()
    {
        if (Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is { } open && int.TryParse(open, out int size)) return size;
        if (Environment.GetEnvironmentVariable("PMI_SIZE") is { } pmi && int.TryParse(pmi, out int other) && other > 1)
            throw new CondenseException("this run was started by an MPI other than Open MPI (PMI_SIZE is set): Condense runs on Open MPI's mpirun");
        return 1;
    }

    private static TimeSpan TimeoutFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable("CONDENSE_MPI_TIMEOUT");
        if (string.IsNullOrWhiteSpace(text)) return DefaultTimeout;
        if (!double.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0))
            throw new CondenseException($"CONDENSE_MPI_TIMEOUT must be a positive number of seconds, got '{text}'");
        return TimeSpan.FromSeconds(seconds);
    }
}
