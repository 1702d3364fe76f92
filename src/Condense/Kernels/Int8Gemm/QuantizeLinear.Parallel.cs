// QuantizeToByte split across the kernel threads, for the integer engine's input at batch size: a 256×784
// batch is ~50 µs on one core (measured), run before the first QGemm, so on two threads it would otherwise
// be serial time. Each part quantizes a contiguous run of values; the values do not depend on who runs them.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Int8Gemm;

internal static unsafe partial class QuantizeLinear
{
    /// <summary>Below this many values one thread is quicker than waking another.</summary>
    private const int ParallelValues = 1 << 16;

    [ThreadStatic] private static QuantizeJob? t_job;

    /// <summary><see cref="QuantizeToByte(ReadOnlySpan{float}, float, byte, Span{byte})"/> on up to <see cref="Cpu.Threads"/> threads.</summary>
    public static void QuantizeToByteParallel(ReadOnlySpan<float> x, float scale, byte zeroPoint, Span<byte> q)
    {
        if (q.Length != x.Length) throw new ArgumentException($"x holds {x.Length} values, q {q.Length}", nameof(q));
        int parts = x.Length >= ParallelValues ? Cpu.Threads : 1;
        if (parts <= 1) { QuantizeToByte(Cpu.Active, x, scale, zeroPoint, q); return; }
        var job = t_job ??= new QuantizeJob();
        fixed (float* px = x)
        fixed (byte* pq = q)
        {
            job.Set(Cpu.Active, px, pq, x.Length, scale, zeroPoint, parts);
            try { WorkerPool.Run(job, parts); }
            finally { job.Clear(); }
        }
    }

    private sealed class QuantizeJob : IParallelJob
    {
        private KernelPath _path;
        private float* _x;
        private byte* _q;
        private int _length, _parts;
        private float _scale;
        private byte _zeroPoint;

        public void Set(KernelPath path, float* x, byte* q, int length, float scale, byte zeroPoint, int parts)
        {
            _x = x; _q = q;
            (_path, _length, _scale, _zeroPoint, _parts) = (path, length, scale, zeroPoint, parts);
        }

        public void Clear() { _x = null; _q = null; }

        public void Execute(int part)
        {
            // Boundaries on multiples of 64 values keep each part's vector loop whole and its stores in its own cache lines.
            int start = (int)((long)_length * part / _parts) & ~63, end = part == _parts - 1 ? _length : (int)((long)_length * (part + 1) / _parts) & ~63;
            QuantizeToByte(_path, new ReadOnlySpan<float>(_x + start, end - start), _scale, _zeroPoint, new Span<byte>(_q + start, end - start));
        }
    }
}
