// The input and output transforms of the Winograd convolution (Conv2dWinograd.cs) as plain loops over the matrices
// of WinogradTransform, one tile at a time: the Scalar path, and the specification of the vector transforms
// (WinogradTiles.F2.cs, WinogradTiles.F4.cs). Layouts, for a block of up to BlockTiles tiles t0 .. t0 + count − 1:
//   V (input transform, the GEMM's B operand)  v[ξ·VStride + (l / nr)·C·nr + c·nr + l mod nr] = (Bᵀ d_{t0+l, c} B)[ξ]
//     in panels of nr tiles (the GEMM micro-kernel's NR); lanes l ≥ count are zero.
//   M (the GEMMs' output)                      m[ξ·MStride + k·BlockTiles + l] = Σ_c U[ξ][m0 + k, c] · V[ξ][c, l]
// The α² components of a tile are VStride = BlockTiles·C + 16 (MStride = rows·BlockTiles + 16) floats apart: without
// the 16, 64 channels put them 8 KiB apart, all in one L1 set, and the transforms ran at a fraction of their speed.
//   y (output transform, with the epilogue)    y[n, m0 + k, m·ty + i, m·tx + j] = max(0, (Aᵀ M A)[i, j] + b + residual)
// The epilogue adds the bias, then the residual, then applies the Relu, as the separate graph ops would.
namespace Condense.Kernels.Conv;

/// <summary>Plain-loop Winograd input and output transforms over a block of tiles.</summary>
internal static unsafe class WinogradTilesScalar
{
    /// <summary>Tiles per block: the columns of the GEMMs' output M.</summary>
    public const int BlockTiles = 32;

    /// <summary>Floats from one component ξ of V to the next, for <paramref name="channels"/> input channels.</summary>
    public static long VStride(int channels) => (long)BlockTiles * channels + 16;

    /// <summary>Floats from one component ξ of M to the next, for <paramref name="rows"/> output channels.</summary>
    public static long MStride(int rows) => (long)rows * BlockTiles + 16;

    /// <summary>V for tiles t0 .. t0 + count − 1 of x (N, C, H, W); see the file header for the layout.</summary>
    public static void Input(in WinogradTiling s, float* x, int t0, int count, float* v, int nr)
    {
        var g = s.Geometry;
        var f = s.Transform;
        int a = f.Alpha, c = g.InChannels, h = g.Height, w = g.Width;
        float* d = stackalloc float[a * a], bd = stackalloc float[a * a];
        for (int l = 0; l < BlockTiles; l++)
        {
            var (n, ty, tx) = l < count ? s.Locate(t0 + l) : (0, 0, 0);
            int y0 = ty * f.Output - g.Options.PadTop, x0 = tx * f.Output - g.Options.PadLeft;
            for (int ci = 0; ci < c; ci++)
            {
                float* plane = x + ((long)n * c + ci) * h * w;
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < a; j++)
                    {
                        int iy = y0 + i, ix = x0 + j;
                        d[i * a + j] = l < count && iy >= 0 && iy < h && ix >= 0 && ix < w ? plane[(long)iy * w + ix] : 0f;
                    }
                // bd = Bᵀ d, then V = bd B.
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < a; j++)
                    {
                        float sum = 0f;
                        for (int k = 0; k < a; k++) sum += f.InputT[i][k] * d[k * a + j];
                        bd[i * a + j] = sum;
                    }
                float* target = v + (long)(l / nr) * c * nr + (long)ci * nr + l % nr;
                for (int i = 0; i < a; i++)
                    for (int j = 0; j < a; j++)
                    {
                        float sum = 0f;
                        for (int k = 0; k < a; k++) sum += bd[i * a + k] * f.InputT[j][k];
                        target[(i * a + j) * VStride(c)] = sum;
                    }
            }
        }
    }

    /// <summary>
    /// y for tiles t0 .. t0 + count − 1 and output channels m0 .. m0 + rows − 1 from M; see the file header for the
    /// layout. bias and residual may be null.
    /// </summary>
    public static void Output(in WinogradTiling s, float* mm, int rows, int m0, int t0, int count, float* bias, float* y,
        float* residual, bool relu)
    {
        var g = s.Geometry;
        var f = s.Transform;
        int a = f.Alpha, o = f.Output, oh = g.OutHeight, ow = g.OutWidth;
        float* am = stackalloc float[o * a];
        for (int l = 0; l < count; l++)
        {
            var (n, ty, tx) = s.Locate(t0 + l);
            for (int k = 0; k < rows; k++)
            {
                float* source = mm + (long)k * BlockTiles + l;
                // am = Aᵀ M (m×α), then Y = am A.
                for (int i = 0; i < o; i++)
                    for (int j = 0; j < a; j++)
                    {
                        float sum = 0f;
                        for (int r = 0; r < a; r++) sum += f.OutputT[i][r] * source[(r * a + j) * MStride(rows)];
                        am[i * a + j] = sum;
                    }
                long channel = ((long)n * g.OutChannels + m0 + k) * oh * ow;
                for (int i = 0; i < o && ty * o + i < oh; i++)
                    for (int j = 0; j < o && tx * o + j < ow; j++)
                    {
                        float sum = 0f;
                        for (int r = 0; r < a; r++) sum += am[i * a + r] * f.OutputT[j][r];
                        long at = channel + (long)(ty * o + i) * ow + tx * o + j;
                        y[at] = Epilogue(sum, bias, m0 + k, residual, at, relu);
                    }
            }
        }
    }

    /// <summary>max(0, (value + b) + residual), each step only when asked.</summary>
    public static float Epilogue(float value, float* bias, int channel, float* residual, long at, bool relu)
    {
        if (bias is not null) value += bias[channel];
        if (residual is not null) value += residual[at];
        return relu ? Math.Max(value, 0f) : value;
    }
}
