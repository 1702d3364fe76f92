// When an inference convolution runs as Winograd F(m×m, 3×3) (Lavin & Gray 2016; WinogradTransform.cs) instead of the
// direct convolution: 3×3 kernels, stride 1, dilation 1, one group, with the weight's transform kept across passes
// (Conv2dPackedWeights: inference only; training and gradients keep the direct convolution, whose weight changes every
// step). Winograd reassociates the sums, so its results differ from the direct convolution's within the transform's
// rounding (measured in Conv2dWinogradTests); Mode = Off restores the direct convolution's bits. Which tile size
// (or none) each shape takes was measured (`winograd` benchmark) on Zen 4, 2 cores.
using Condense.Kernels.FloatGemm;
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>Whether inference 3×3 convolutions run as Winograd convolutions.</summary>
public enum WinogradMode
{
    /// <summary>Winograd where it was measured faster than the direct convolution, with the tile size measured best.</summary>
    Auto,

    /// <summary>Always the direct convolution.</summary>
    Off,

    /// <summary>F(2×2, 3×3) for every convolution it applies to.</summary>
    F2,

    /// <summary>F(4×4, 3×3) for every convolution it applies to.</summary>
    F4,
}

/// <summary>The choice between the Winograd and the direct convolution for inference.</summary>
public static unsafe class Conv2dWinograd
{
    private static WinogradMode s_mode = WinogradMode.Auto;

    // A per-thread override, as Cpu.Force: a test forcing a mode does not change it for tests on other threads.
    [ThreadStatic] private static WinogradMode? t_forced;

    /// <summary>The mode inference convolutions use; <see cref="WinogradMode.Auto"/> by default.</summary>
    public static WinogradMode Mode
    {
        get => t_forced ?? s_mode;
        set => s_mode = value;
    }

    /// <summary>Makes the calling thread use <paramref name="mode"/> until the result is disposed.</summary>
    internal static IDisposable Force(WinogradMode mode)
    {
        var previous = t_forced;
        t_forced = mode;
        return new Cpu.Restore(() => t_forced = previous);
    }

    /// <summary>True for the convolutions Winograd F(m×m, 3×3) computes: 3×3, stride 1, dilation 1, one group.</summary>
    public static bool Applies(Conv2dGeometry g)
    {
        var o = g.Options;
        return g.KernelH == 3 && g.KernelW == 3 && o.StrideH == 1 && o.StrideW == 1 && o.DilationH == 1 && o.DilationW == 1 && o.Groups == 1;
    }

    /// <summary>The transform inference uses for <paramref name="g"/> under <see cref="Mode"/>, or null for the direct convolution.</summary>
    internal static WinogradTransform? Choose(Conv2dGeometry g) => !Applies(g) ? null : Mode switch
    {
        WinogradMode.F2 => WinogradTransform.F2,
        WinogradMode.F4 => WinogradTransform.F4,
        WinogradMode.Auto => Measured(g),
        _ => null,
    };

    /// <summary>
    /// The cheapest of the direct convolution, F(2×2) and F(4×4) by the cost model below (a Winograd form must be 10 %
    /// cheaper than the direct convolution to be taken); the `winograd` benchmark prints the choice beside the times. Fewer
    /// than 8 input channels stay direct: the GEMMs' depth is then below a vector and the transforms are all the work.
    /// F(4×4)'s weight, 36 values per 9 of the kernel, is not taken above <see cref="LargeWeightBytes"/>: F(2×2) keeps 16;
    /// no transform whose weight exceeds <see cref="ImageWeightBytes"/> per image of the call is taken.
    /// </summary>
    private static WinogradTransform? Measured(Conv2dGeometry g)
    {
        if (g.InChannels < 8) return null;
        double direct = DirectCycles(g), f2 = WinogradCycles(g, WinogradTransform.F2), f4 = WinogradCycles(g, WinogradTransform.F4);
        double imageBytes = ImageWeightBytes * g.Batch;
        if (TransformedBytes(g, WinogradTransform.F4) > Math.Min(LargeWeightBytes, imageBytes)) f4 = double.PositiveInfinity;
        if (TransformedBytes(g, WinogradTransform.F2) > imageBytes) f2 = double.PositiveInfinity;
        if (Math.Min(f2, f4) > 0.9 * direct) return null;
        return f4 <= f2 ? WinogradTransform.F4 : WinogradTransform.F2;
    }

    // Cycles on one Zen 4 core, fitted to the `winograd` benchmark's single-thread times at batch 1 (--cpu). The direct
    // convolution: one 16-lane FMA per cycle at 96 % over its output pixels, and 3.5 cycles per output (image copy, tile
    // write-out): 56×56×64 7.8 M cycles measured, 7.8 M modelled; 14×14×32 137 K (140 K).
    private static double DirectCycles(Conv2dGeometry g) =>
        (9.0 * g.InChannels / 16 / 0.96 + 3.5) * g.OutChannels * g.Batch * g.OutPixels;

    // Winograd: the GEMMs at one FMA per cycle over the tile lanes they compute (the tiles rounded up to 8), the transforms
    // at about one cycle per component, lane and channel (input and output), and, when the transformed weight outgrows the
    // L3 (37.7 MB at 512 channels in F(4×4)), its bytes from memory at 6 per cycle for each block a thread runs. F(4×4):
    // 56×56×64 2.8 M cycles modelled, 2.9 M measured; 28×28×16 111 K (93 K); 7×7×512 16 M (17 M). F(2×2): 7×7×512 4.5 M
    // (4.9 M); 7×7×64 98 K (96 K).
    private static double WinogradCycles(Conv2dGeometry g, WinogradTransform f)
    {
        var tiling = new WinogradTiling(g, f);
        int blocks = (tiling.Count + WinogradTilesScalar.BlockTiles - 1) / WinogradTilesScalar.BlockTiles;
        double lanes = (tiling.Count + 7) / 8 * 8;
        double c = g.InChannels, m = g.OutChannels, components = f.Alpha * f.Alpha;
        double cycles = components * lanes * (c * m / 16 + c + m);
        double weightBytes = TransformedBytes(g, f);
        if (weightBytes > LargeWeightBytes) cycles += Math.Ceiling((double)blocks / Cpu.Threads) * weightBytes / 6;
        return cycles;
    }

    // A transformed weight beyond the L3 of the machines measured: streamed from memory by every block, and kept beside the
    // model's own weight for as long as the model lives. ResNet-18's 512 → 512 layers take 37.7 MB each in F(4×4), 16.8 MB
    // in F(2×2); with F(4×4) there its inference at batch 8 peaked at 444 MB against ONNX Runtime's 306 (`real --memory`).
    private const double LargeWeightBytes = 24e6;

    // At most this many bytes of transformed weight per image of the call. Inside a network the weights of successive layers
    // come from memory, not from the cache a single-layer benchmark leaves them in, so a transform's larger weight costs
    // what its fewer multiply-adds save when few images share it: ResNet-18 fp32 at batch 1 on Zen 5 (2 cores, 32 MB L3)
    // ran 14.3–14.6 ms with F(4×4) on its 256-channel layers (9.4 MB each) and F(2×2) on its 512-channel ones (16.8 MB),
    // 10.1–10.3 ms with both direct (F(4×4) kept on the 64- and 128-channel layers, 0.6 and 2.4 MB), and 10.8–11.1 with
    // only the 512-channel ones direct (alternating runs, `real --only resnet18 --profile "ResNet-18 fp32"`); at batch 8
    // every layer keeps its transform (1.2× faster than direct there).
    private const double ImageWeightBytes = 3e6;

    private static double TransformedBytes(Conv2dGeometry g, WinogradTransform f) =>
        (double)f.Alpha * f.Alpha * g.InChannels * g.OutChannels * sizeof(float);

    /// <summary>
    /// Runs y = max(0, conv(x, w) + b + residual) (each step when given) as a Winograd convolution and returns true, when
    /// there is a weight cache (<paramref name="prepacked"/>) and <see cref="Choose"/> picks a transform; else false.
    /// </summary>
    internal static bool TryForward(KernelPath path, Conv2dGeometry g, float* x, float* w, float* bias, float* y, float* residual, bool relu,
        Conv2dPackedWeights? prepacked)
    {
        if (prepacked is null || Choose(g) is not { } f) return false;
        var tiling = new WinogradTiling(g, f);
        switch (path)
        {
            case KernelPath.Avx512: Run<GemmKernelAvx512>(tiling, x, w, bias, y, residual, relu, prepacked); break;
            case KernelPath.Avx2: Run<GemmKernelAvx2>(tiling, x, w, bias, y, residual, relu, prepacked); break;
            default: Run<GemmKernelScalar>(tiling, x, w, bias, y, residual, relu, prepacked); break;
        }
        return true;
    }

    private static void Run<TGemm>(WinogradTiling s, float* x, float* w, float* bias, float* y, float* residual, bool relu,
        Conv2dPackedWeights prepacked) where TGemm : struct, IGemmKernel
    {
        var (g, f) = (s.Geometry, s.Transform);
        int rows = Conv2dWinograd<TGemm>.PanelRows;
        if (prepacked.FindWinograd(f.Output, rows, g) is not { } u)
        {
            long size = (long)f.Alpha * f.Alpha * ((g.OutChannels + rows - 1) / rows * rows) * g.InChannels;
            u = GC.AllocateUninitializedArray<float>(checked((int)size + 16), pinned: true);
            fixed (float* source = w is null ? prepacked.SourcedWeight(g.OutChannels * g.ColumnRows) : null)
                f.PackWeights(g, w is null ? source : w, rows, Aligned(u));
            prepacked.KeepWinograd(f.Output, rows, g, u);
        }
        Conv2dWinograd<TGemm>.Forward(s, x, Aligned(u), bias, y, residual, relu, Cpu.Threads);
        GC.KeepAlive(u);
    }

    // The first cache-line boundary of a pinned array with 16 spare floats.
    private static float* Aligned(float[] pinned)
    {
        fixed (float* p = pinned) return (float*)(((nint)p + 63) & ~(nint)63);
    }

}
