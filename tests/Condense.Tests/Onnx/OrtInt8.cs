// Whether ONNX Runtime's uint8 × int8 products are exact on this machine. Without a VNNI dot product (AVX-512 VNNI or
// AVX-VNNI), MLAS multiplies u8 × s8 pairs with vpmaddubsw, whose int16 pair sums saturate at 32767 (ONNX Runtime's
// quantization guide says so and offers reduce_range for it): two products of 255 · 127 already exceed it. Tests that
// use ONNX Runtime as the oracle of an integer result take an independent one where ONNX Runtime is not exact.
namespace Condense.Tests.Onnx;

internal static class OrtInt8
{
    private static readonly Lazy<bool> s_exact = new(() =>
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported) return true; // ARM: sdot/smmla, exact
        if (System.Runtime.Intrinsics.X86.AvxVnni.IsSupported) return true;
        // .NET has no AVX-512 VNNI query; Linux lists the CPU's flags.
        const string cpuinfo = "/proc/cpuinfo";
        return File.Exists(cpuinfo) && File.ReadLines(cpuinfo).Any(l => l.StartsWith("flags", StringComparison.Ordinal)
            && l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("avx512_vnni"));
    });

    /// <summary>True when ONNX Runtime's u8 × s8 kernels cannot saturate on this machine.</summary>
    public static bool Exact => s_exact.Value;

    /// <summary>
    /// The weight bits for a model that ONNX Runtime runs exactly here: 8, or 7 where it saturates (its reduce_range):
    /// |u8 · s7| pairs stay under 2 · 255 · 64 = 32,640.
    /// </summary>
    public static int WeightBits => Exact ? 8 : 7;
}
