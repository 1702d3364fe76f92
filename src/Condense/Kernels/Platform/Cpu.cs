// The one place that asks the hardware what it can do (as MLAS's platform.cpp does): it detects the best
// KernelPath and Int8Dot, holds the active ones and the thread budget. Kernels read Cpu.Active, Cpu.ActiveInt8Dot
// and Cpu.Threads only (and the worker pool Cpu.WorkerSpin).
using System.Runtime.Intrinsics.X86;
using Condense.Kernels.Int8Gemm.Jit;

namespace Condense.Kernels.Platform;

/// <summary>CPU capabilities and the kernel settings derived from them.</summary>
public static class Cpu
{
    // Static initialisers run in text order, so Best must be set before _active copies it.
    private static readonly KernelPath s_best = Detect();
    private static KernelPath _active = s_best;
    // vpmaddubsw quads only where the pair kernels are ymm too: against AVX-512's zmm vpmaddwd they were not measured.
    // The emitted zmm vpdpbusd before AVX-VNNI's ymm one where a CPU has both: on Zen 5 (512-bit multipliers) it does twice
    // the multiply-adds per cycle (qgemm 1024²: 1,927 against 963 GOP/s on 2 cores; ResNet-18 int8 at batch 1 6.7 → 3.4 ms).
    private static readonly Int8Dot s_bestInt8Dot = Supports(Int8Dot.JitZmmQuads) ? Int8Dot.JitZmmQuads
        : Supports(Int8Dot.Quads) ? Int8Dot.Quads
        : s_best == KernelPath.Avx2 ? Int8Dot.MaddubsQuads : Int8Dot.Pairs;
    private static int _threads = Environment.ProcessorCount;

    // A per-thread override so that a test forcing a path does not change the path of tests running
    // concurrently on other threads. Worker threads never read it: the caller reads Active once per call.
    [ThreadStatic] private static KernelPath? t_forced;
    [ThreadStatic] private static Int8Dot? t_forcedInt8Dot;
    [ThreadStatic] private static int? t_threads;

    /// <summary>
    /// Bytes of the last-level cache one core shares (Linux's sysfs, cache index of level 3); null where it is not reported.
    /// Graph inference sizes its batch chunks by it (GraphModule.BatchChunks.cs).
    /// </summary>
    public static long? LastLevelCacheBytes { get; } = ReadLastLevelCache();

    /// <summary>The fastest path this CPU supports.</summary>
    public static KernelPath Best => s_best;

    /// <summary>The path kernels use; defaults to <see cref="Best"/>. Setting a path the CPU lacks throws.</summary>
    public static KernelPath Active
    {
        get => t_forced ?? _active;
        set { EnsureSupported(value); _active = value; }
    }

    /// <summary>How many threads a large kernel call may use; defaults to the processor count.</summary>
    public static int Threads
    {
        get => t_threads ?? _threads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            _threads = value;
        }
    }

    /// <summary>
    /// The thread budget of calls made on the calling thread only (null: <see cref="Threads"/>' own), so that tests running
    /// at the same time keep theirs; kernels read the budget on the calling thread, as they read <see cref="Active"/>.
    /// </summary>
    internal static int? ThreadsOnThisThread
    {
        get => t_threads;
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, "a thread budget is at least 1");
            t_threads = value;
        }
    }

    /// <summary>
    /// Whether kernel workers spin for half a millisecond after a part before they sleep (the default), as ONNX Runtime's
    /// session.intra_op.allow_spinning does: it saves the wake-up of the next call when calls come quickly on an idle
    /// machine, but where the cores are shared with other busy processes a spinning worker loses the scheduler's favour
    /// and is preempted inside its next part, which the caller then waits for (all-MiniLM-L6-v2 at batch 1 on two shared
    /// cores: 47 ms spinning, 37 ms not, measured).
    /// </summary>
    public static bool WorkerSpin { get; set; } = true;

    /// <summary>True when this CPU can run <paramref name="path"/>.</summary>
    public static bool Supports(KernelPath path) => path switch
    {
        KernelPath.Scalar => true,
        KernelPath.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        // The integer kernels (QGemm) need AVX-512BW for 16-bit lanes; every AVX-512 CPU shipped has both.
        KernelPath.Avx512 => Avx512F.IsSupported && Avx512BW.IsSupported,
        _ => false,
    };

    /// <summary>True when this CPU can run the int8 kernels with <paramref name="dot"/> (on a SIMD path).</summary>
    public static bool Supports(Int8Dot dot) => dot switch
    {
        Int8Dot.Pairs => true,
        Int8Dot.Quads => AvxVnni.IsSupported && Supports(KernelPath.Avx2),
        Int8Dot.EmulatedQuads or Int8Dot.MaddubsQuads => Supports(KernelPath.Avx2),
        // CPUID.(EAX=7, ECX=0):ECX bit 11 is AVX512_VNNI (Intel SDM vol. 2, CPUID); the emitted kernels must exist too.
        Int8Dot.JitZmmQuads => Supports(KernelPath.Avx512) && (X86Base.CpuId(7, 0).Ecx & 1 << 11) != 0 && JitQuadKernels.Available,
        _ => false,
    };

    /// <summary>
    /// The dot product the int8 kernels use: <see cref="Int8Dot.JitZmmQuads"/> where AVX-512 VNNI and the emitted kernels exist,
    /// else <see cref="Int8Dot.Quads"/> where AVX-VNNI exists, else <see cref="Int8Dot.MaddubsQuads"/>
    /// on AVX2 (for the weights it is exact on) and <see cref="Int8Dot.Pairs"/> on AVX-512; always Pairs on the Scalar path
    /// (its kernel is the plain loop).
    /// </summary>
    public static Int8Dot ActiveInt8Dot => Active == KernelPath.Scalar ? Int8Dot.Pairs : t_forcedInt8Dot ?? s_bestInt8Dot;

    /// <summary>The dot product the int8 kernels use unless a test forces another: <see cref="ActiveInt8Dot"/> on <see cref="Best"/>.</summary>
    public static Int8Dot BestInt8Dot => s_best == KernelPath.Scalar ? Int8Dot.Pairs : s_bestInt8Dot;

    /// <summary>Every int8 dot product this CPU can run, slowest first.</summary>
    public static IReadOnlyList<Int8Dot> SupportedInt8Dots { get; } =
        new[] { Int8Dot.EmulatedQuads, Int8Dot.Pairs, Int8Dot.MaddubsQuads, Int8Dot.Quads, Int8Dot.JitZmmQuads }.Where(Supports).ToArray();

    /// <summary>Every path this CPU can run, slowest first.</summary>
    public static IReadOnlyList<KernelPath> SupportedPaths { get; } =
        Enum.GetValues<KernelPath>().Where(Supports).ToArray();

    /// <summary>
    /// Makes the calling thread use <paramref name="path"/> until the result is disposed (tests use it to
    /// run every path); the previous setting comes back on dispose.
    /// </summary>
    internal static IDisposable Force(KernelPath path)
    {
        EnsureSupported(path);
        var previous = t_forced;
        t_forced = path;
        return new Restore(() => t_forced = previous);
    }

    /// <summary>
    /// Makes the calling thread's int8 kernels use <paramref name="dot"/> until the result is disposed (tests and
    /// benchmarks use it to run every dot product); the previous setting comes back on dispose.
    /// </summary>
    internal static IDisposable Force(Int8Dot dot)
    {
        if (!Supports(dot)) throw new PlatformNotSupportedException($"this CPU cannot run the {dot} int8 dot product");
        var previous = t_forcedInt8Dot;
        t_forcedInt8Dot = dot;
        return new Restore(() => t_forcedInt8Dot = previous);
    }

    /// <summary>
    /// Sets the calling thread's thread budget (<see cref="ThreadsOnThisThread"/>) to <paramref name="threads"/> until the
    /// result is disposed; the previous budget comes back on dispose.
    /// </summary>
    internal static IDisposable ForceThreads(int threads)
    {
        var previous = t_threads;
        ThreadsOnThisThread = threads;
        return new Restore(() => t_threads = previous);
    }

    /// <summary>
    /// Makes the calling thread use <paramref name="path"/> and <paramref name="dot"/> (a caller's settings, read on its thread)
    /// until the result is disposed; null, with nothing changed, when they are this thread's already. A job that runs
    /// whole passes on the worker threads holds its caller's settings so (the integer engines' batch shares).
    /// </summary>
    internal static IDisposable? Hold(KernelPath path, Int8Dot dot)
    {
        if (Active == path && ActiveInt8Dot == dot) return null;
        var (previousPath, previousDot) = (t_forced, t_forcedInt8Dot);
        (t_forced, t_forcedInt8Dot) = (path, dot);
        return new Restore(() => (t_forced, t_forcedInt8Dot) = (previousPath, previousDot));
    }

    private static KernelPath Detect() =>
        Supports(KernelPath.Avx512) ? KernelPath.Avx512
        : Supports(KernelPath.Avx2) ? KernelPath.Avx2
        : KernelPath.Scalar;

    private static void EnsureSupported(KernelPath path)
    {
        if (!Supports(path))
            throw new PlatformNotSupportedException($"this CPU cannot run the {path} kernel path");
    }

    /// <summary>Runs <paramref name="undo"/> once on the first dispose: the scope of a thread's forced setting.</summary>
    internal sealed class Restore(Action undo) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            undo();
        }
    }

    // "32768K", "32M" or a byte count in /sys/devices/system/cpu/cpu0/cache/indexN/size where indexN/level is 3.
    private static long? ReadLastLevelCache()
    {
        try
        {
            for (int i = 0; i < 8; i++)
            {
                string dir = $"/sys/devices/system/cpu/cpu0/cache/index{i}";
                if (!File.Exists(Path.Combine(dir, "level")) || File.ReadAllText(Path.Combine(dir, "level")).Trim() != "3") continue;
                string size = File.ReadAllText(Path.Combine(dir, "size")).Trim();
                long unit = size.EndsWith('K') ? 1L << 10 : size.EndsWith('M') ? 1L << 20 : 1;
                return long.TryParse(unit == 1 ? size : size[..^1], out long value) && value > 0 ? value * unit : null;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}
