// The thin binding to the MPI C API that data-parallel runs need, and nothing more: MPI.NET 1.4.0 (the one NuGet
// package) is built for Microsoft's msmpi.dll only and fails to load on Linux (checked: DllNotFoundException under
// mpirun). Open MPI's handles are pointers to exported globals (mpi.h: MPI_COMM_WORLD is &ompi_mpi_comm_world), so they
// are looked up by name; the library is opened RTLD_GLOBAL because Open MPI's components resolve its symbols at load.
// Only the main thread calls MPI (MPI_THREAD_FUNNELED); every collective is nonblocking so the caller can poll it with
// a deadline (MPI itself has no timeout on collectives).
using System.Runtime.InteropServices;

namespace Condense.Distributed;

internal static unsafe class OpenMpi
{
    public const int ThreadFunneled = 1;
    public const int AnySource = -1;
    private const int RtldNowGlobal = 0x102;
    private static nint _library;

    public static nint CommWorld { get; private set; }
    public static nint Float { get; private set; }
    public static nint Double { get; private set; }
    public static nint Int64 { get; private set; }
    public static nint Byte { get; private set; }
    public static nint Sum { get; private set; }
    public static nint Max { get; private set; }
    public static nint Min { get; private set; }

    /// <summary>Opens libmpi (Open MPI 4 or 5) and resolves the handles; throws a one-line error when it is not installed.</summary>
    public static void Load()
    {
        if (_library != 0) return;
        foreach (string name in new[] { "libmpi.so.40", "libmpi.so" })
        {
            _library = dlopen(name, RtldNowGlobal);
            if (_library != 0) break;
        }
        if (_library == 0)
            throw new CondenseException("this run was started by mpirun but Open MPI's libmpi.so.40 cannot be loaded (install openmpi-bin and libopenmpi-dev)");
        NativeLibrary.SetDllImportResolver(typeof(OpenMpi).Assembly, (name, _, _) => name == "mpi" ? _library : 0);
        CommWorld = Export("ompi_mpi_comm_world");
        Float = Export("ompi_mpi_float");
        Double = Export("ompi_mpi_double");
        Int64 = Export("ompi_mpi_int64_t");
        Byte = Export("ompi_mpi_byte");
        Sum = Export("ompi_mpi_op_sum");
        Max = Export("ompi_mpi_op_max");
        Min = Export("ompi_mpi_op_min");
    }

    private static nint Export(string symbol) => NativeLibrary.TryGetExport(_library, symbol, out nint address) ? address
        : throw new CondenseException($"the MPI library has no '{symbol}': Condense runs on Open MPI only");

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint dlopen(string file, int mode);

    [DllImport("mpi")] public static extern int MPI_Init_thread(int* argc, byte*** argv, int required, int* provided);
    [DllImport("mpi")] public static extern int MPI_Initialized(int* flag);
    [DllImport("mpi")] public static extern int MPI_Finalize();
    [DllImport("mpi")] public static extern int MPI_Abort(nint comm, int errorCode);
    [DllImport("mpi")] public static extern int MPI_Comm_rank(nint comm, int* rank);
    [DllImport("mpi")] public static extern int MPI_Comm_size(nint comm, int* size);
    [DllImport("mpi")] public static extern int MPI_Iallreduce(void* send, void* receive, int count, nint type, nint op, nint comm, nint* request);
    [DllImport("mpi")] public static extern int MPI_Ibcast(void* buffer, int count, nint type, int root, nint comm, nint* request);
    [DllImport("mpi")] public static extern int MPI_Test(nint* request, int* flag, void* status);
    [DllImport("mpi")] public static extern int MPI_Iprobe(int source, int tag, nint comm, int* flag, void* status);
    [DllImport("mpi")] public static extern int MPI_Recv(void* buffer, int count, nint type, int source, int tag, nint comm, void* status);
    [DllImport("mpi")] public static extern int MPI_Send(void* buffer, int count, nint type, int destination, int tag, nint comm);
    [DllImport("mpi")] public static extern int MPI_Get_count(void* status, nint type, int* count);

    /// <summary>Bytes reserved for an MPI_Status (Open MPI's is 24: source, tag, error, cancelled, a size_t count).</summary>
    public const int StatusBytes = 64;

    /// <summary>The source rank field of an MPI_Status (its first int in every MPI implementation's public layout).</summary>
    public static int Source(byte* status) => *(int*)status;
}
