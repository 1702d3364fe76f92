// One elementwise pass over a span on a kernel path, for functions given as lane formulas: 16 lanes at a time on Avx512,
// 8 on Avx2, the ragged end through a zero-padded vector (so every element has the lanes' bits, whatever the span's
// length or where a thread's chunk ends), and the function's reference on the Scalar path. The function is a struct
// type argument, so the JIT specialises and inlines the formulas into the loop (a delegate or interface call per vector
// passed them through memory). GELU (exact and tanh) and the sigmoid family run on it; InChunks splits any such pass
// (erf's too) between threads.
using System.Runtime.Intrinsics;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Elementwise;

/// <summary>An elementwise function as lane formulas and a scalar reference.</summary>
internal interface ILaneFunction
{
    /// <summary>The function on 16 lanes (the Avx512 path).</summary>
    Vector512<float> Apply(Vector512<float> x);

    /// <summary>The function on 8 lanes (the Avx2 path).</summary>
    Vector256<float> Apply(Vector256<float> x);

    /// <summary>The reference (in double where the formula allows): the Scalar path and the tests' oracle.</summary>
    float Reference(float x);
}

/// <summary>Runs an <see cref="ILaneFunction"/> over a span, and splits elementwise passes between threads.</summary>
internal static class LanePass
{
    /// <summary>Elements below which one thread does the whole span.</summary>
    private const long ParallelElements = 1 << 16;

    /// <summary>One thread's elementwise pass over a span on a path.</summary>
    internal delegate void SpanPass(KernelPath path, ReadOnlySpan<float> x, Span<float> y);

    /// <summary>
    /// <paramref name="pass"/> over x → y on the active path, in chunks of 1,024 elements split between threads when the span is
    /// large (each element is independent, so the split never changes a bit).
    /// </summary>
    internal static void InChunks(float[] x, float[] y, SpanPass pass)
    {
        var path = Cpu.Active;
        ParallelRanges.For((x.Length + 1023) / 1024, x.Length, ParallelElements, (first, last) =>
        {
            int start = first * 1024, end = Math.Min(last * 1024, x.Length);
            pass(path, x.AsSpan(start, end - start), y.AsSpan(start, end - start));
        });
    }

    /// <summary>y = f(x) on <paramref name="path"/>, one thread; x and y have the same length and may overlap exactly.</summary>
    public static void Run<TFunction>(TFunction f, KernelPath path, ReadOnlySpan<float> x, Span<float> y) where TFunction : struct, ILaneFunction
    {
        int i = 0;
        if (path == KernelPath.Avx512 && Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= x.Length; i += 16) f.Apply(Vector512.Create(x.Slice(i, 16))).CopyTo(y.Slice(i, 16));
            if (i == x.Length) return;
            Span<float> padded = stackalloc float[16];
            x[i..].CopyTo(padded);
            f.Apply(Vector512.Create(padded)).CopyTo(padded);
            padded[..(x.Length - i)].CopyTo(y[i..]);
        }
        else if (path != KernelPath.Scalar && Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= x.Length; i += 8) f.Apply(Vector256.Create(x.Slice(i, 8))).CopyTo(y.Slice(i, 8));
            if (i == x.Length) return;
            Span<float> padded = stackalloc float[8];
            x[i..].CopyTo(padded);
            f.Apply(Vector256.Create(padded)).CopyTo(padded);
            padded[..(x.Length - i)].CopyTo(y[i..]);
        }
        else
            for (; i < x.Length; i++) y[i] = f.Reference(x[i]);
    }
}
