// The `--dot NAME` option of the int8 benchmarks: which int8 dot product (Int8Dot) the kernels are forced to use.
using Condense.Kernels.Platform;

namespace Condense.Bench;

/// <summary>Parses `--dot pairs|quads|emulated|jit|maddubs` into the forced <see cref="Int8Dot"/>.</summary>
internal static class DotOption
{
    /// <summary>The dot product after `--dot` in <paramref name="args"/>, or null when the option is absent.</summary>
    public static Int8Dot? Parse(string[] args)
    {
        int at = Array.IndexOf(args, "--dot");
        if (at < 0) return null;
        return (at + 1 < args.Length ? args[at + 1] : "") switch
        {
            "pairs" => Int8Dot.Pairs,
            "quads" => Int8Dot.Quads,
            "emulated" => Int8Dot.EmulatedQuads,
            "jit" => Int8Dot.JitZmmQuads,
            "maddubs" => Int8Dot.MaddubsQuads,
            var other => throw new ArgumentException($"--dot {other}: expected pairs, quads, emulated, jit or maddubs"),
        };
    }

    /// <summary>Forces the dot product of `--dot` on the calling thread until disposed; null when the option is absent.</summary>
    public static IDisposable? Force(string[] args) => Parse(args) is { } dot ? Cpu.Force(dot) : null;
}
