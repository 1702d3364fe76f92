// Winograd's minimal filtering algorithm F(m×m, 3×3) for a 3×3, stride-1 convolution (Lavin & Gray 2016, "Fast
// Algorithms for Convolutional Neural Networks", §4): an α×α input tile d (α = m + 2) and a 3×3 filter g give the m×m
// outputs Y = Aᵀ [U ⊙ V] A with U = G g Gᵀ and V = Bᵀ d B; summed over input channels, the element-wise products
// become α² independent GEMMs M[ξ] = Σ_c U[ξ][k, c] · V[ξ][c, tile], α² multiplies per m² outputs instead of 9m².
// The matrices are Lavin & Gray's: F(2×2, 3×3) on the points 0, ±1 (eqs. 7–8) and F(4×4, 3×3) on 0, ±1, ±2 (§4.2);
// their entries in Bᵀ and Aᵀ are small integers (exact in float), G's fractions are applied in double once per weight.
// This file holds the matrices, the tiling of an image into tiles and the weight transform packed for the GEMM phase.
namespace Condense.Kernels.Conv;

/// <summary>The matrices Bᵀ (α×α), G (α×3) and Aᵀ (m×α) of one F(m×m, 3×3).</summary>
internal sealed class WinogradTransform
{
    /// <summary>F(2×2, 3×3): 4×4 tiles, 16 products for 4 outputs (2.25× fewer multiplies than direct).</summary>
    public static readonly WinogradTransform F2 = new(2,
        [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        [[1, 1, 1, 0], [0, 1, -1, -1]]);

    /// <summary>F(4×4, 3×3): 6×6 tiles, 36 products for 16 outputs (4× fewer multiplies than direct).</summary>
    public static readonly WinogradTransform F4 = new(4,
        [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        [[1 / 4.0, 0, 0], [-1 / 6.0, -1 / 6.0, -1 / 6.0], [-1 / 6.0, 1 / 6.0, -1 / 6.0], [1 / 24.0, 1 / 12.0, 1 / 6.0],
            [1 / 24.0, -1 / 12.0, 1 / 6.0], [0, 0, 1]],
        [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]);

    private WinogradTransform(int output, float[][] inputT, double[][] filter, float[][] outputT) =>
        (Output, InputT, Filter, OutputT) = (output, inputT, filter, outputT);

    /// <summary>Outputs per tile side (m).</summary>
    public int Output { get; }

    /// <summary>Input tile side α = m + 2; α² products per tile and channel pair.</summary>
    public int Alpha => Output + 2;

    /// <summary>Bᵀ (α×α): V = Bᵀ d B.</summary>
    public float[][] InputT { get; }

    /// <summary>G (α×3): U = G g Gᵀ.</summary>
    public double[][] Filter { get; }

    /// <summary>Aᵀ (m×α): Y = Aᵀ M A.</summary>
    public float[][] OutputT { get; }

    /// <summary>The transform with <paramref name="output"/> (2 or 4) outputs per tile side.</summary>
    public static WinogradTransform Of(int output) => output == 4 ? F4 : output == 2 ? F2
        : throw new ArgumentOutOfRangeException(nameof(output), output, "Winograd tiles have 2 or 4 outputs per side");

    /// <summary>
    /// U = G g Gᵀ of every (out, in) pair of the 3×3 weight w (M, C, 3, 3), packed as the GEMM's A operand:
    /// u[((ξ·panels + k / mr)·C + c)·mr + k mod mr] = U[ξ][k, c] for ξ = row·α + column, panels = ⌈M / mr⌉ panels of mr
    /// output channels (rows past M zero), so that an mr × kc micro-panel of any K block is contiguous. Written panel by
    /// panel, input channel by input channel, so each of the α² components is one sequential stream (in output-channel
    /// order the strided writes made packing ResNet-18 take a tenth of a second per model), the panels split over the threads.
    /// </summary>
    public unsafe void PackWeights(Conv2dGeometry g, float* w, int mr, float* u)
    {
        int a = Alpha, c = g.InChannels, m = g.OutChannels, panels = (m + mr - 1) / mr;
        long xiStride = (long)panels * c * mr;
        nint weight = (nint)w, packed = (nint)u;
        Platform.ParallelRanges.For(panels, 20L * a * a * c * m, Conv2dKernel.ParallelFlops, (first, last) =>
        {
            var gg = new double[a * 3];
            for (int panel = first; panel < last; panel++)
                for (int ci = 0; ci < c; ci++)
                    for (int i = 0; i < mr; i++)
                    {
                        int k = panel * mr + i;
                        float* target = (float*)packed + ((long)panel * c + ci) * mr + i;
                        if (k >= m)
                        {
                            for (int xi = 0; xi < a * a; xi++) target[xi * xiStride] = 0f;
                            continue;
                        }
                        float* filter = (float*)weight + ((long)k * c + ci) * 9;
                        // gg = G g (α×3), then U = gg Gᵀ (α×α).
                        for (int r = 0; r < a; r++)
                            for (int j = 0; j < 3; j++)
                                gg[r * 3 + j] = Filter[r][0] * filter[j] + Filter[r][1] * filter[3 + j] + Filter[r][2] * filter[6 + j];
                        for (int r = 0; r < a; r++)
                            for (int j = 0; j < a; j++)
                                target[(r * a + j) * xiStride] =
                                    (float)(gg[r * 3] * Filter[j][0] + gg[r * 3 + 1] * Filter[j][1] + gg[r * 3 + 2] * Filter[j][2]);
                    }
        });
    }
}

/// <summary>
/// The tiles of a Winograd convolution: tile (n, ty, tx) computes outputs rows m·ty .. m·ty + m − 1 and columns
/// m·tx .. of image n from input rows m·ty − padTop .. + α − 1 (outside the image: zero padding). Tiles are numbered
/// t = (n·TilesH + ty)·TilesW + tx; tiles past the output's bottom or right edge compute values that are dropped.
/// </summary>
internal readonly record struct WinogradTiling
{
    public WinogradTiling(Conv2dGeometry g, WinogradTransform transform)
    {
        (Geometry, Transform) = (g, transform);
        TilesH = (g.OutHeight + transform.Output - 1) / transform.Output;
        TilesW = (g.OutWidth + transform.Output - 1) / transform.Output;
    }

    /// <summary>The convolution.</summary>
    public Conv2dGeometry Geometry { get; }

    /// <summary>F(m×m, 3×3).</summary>
    public WinogradTransform Transform { get; }

    /// <summary>Tile rows per image.</summary>
    public int TilesH { get; }

    /// <summary>Tile columns per image.</summary>
    public int TilesW { get; }

    /// <summary>Tiles in the batch.</summary>
    public int Count => Geometry.Batch * TilesH * TilesW;

    /// <summary>Image, tile row and tile column of tile <paramref name="t"/>.</summary>
    public (int N, int Ty, int Tx) Locate(int t)
    {
        int perImage = TilesH * TilesW, n = t / perImage, rest = t - n * perImage, ty = rest / TilesW;
        return (n, ty, rest - ty * TilesW);
    }
}
