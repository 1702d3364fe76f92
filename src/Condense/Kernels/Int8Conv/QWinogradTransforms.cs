// The exact integer transforms of Winograd F(2×2, 3×3) (Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural
// Networks", with Bᵀ, G, Aᵀ of their F(2, 3)): a 2×2 output tile is Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A for the tile's 4×4
// input patch d. G has halves, so the weight is transformed with 2G: U = (2G) g (2G)ᵀ = 4·G g Gᵀ is an integer, |U| ≤
// 9·128, and the tile comes out times 4. Bᵀ and Aᵀ hold only 0 and ±1: V = Bᵀ d B is a sum of 4 values of x − z_x,
// |V| ≤ 4·255, and both fit int16 for vpmaddwd. Int32 sums wrap modulo 2³², so 4·acc comes out exact whenever it fits
// an int32 (|acc| < 2²⁹: at most 1,827 input channels of 9 taps of 255·128), whatever the partial sums did.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Condense.Kernels.Int8Conv;

/// <summary>Weight, input and output transforms of the integer F(2×2, 3×3).</summary>
internal static unsafe class QWinogradTransforms
{
    /// <summary>2G of F(2, 3): G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].</summary>
    private static readonly int[,] G2 = { { 2, 0, 0 }, { 1, 1, 1 }, { 1, -1, 1 }, { 0, 0, 2 } };

    /// <summary>
    /// The 16 values U[ξ = 4i + j] = Σ_ab 2G[i, a]·g[a, b]·2G[j, b] of one 3×3 kernel g (row-major), into <paramref name="u"/>.
    /// </summary>
    public static void Weight(ReadOnlySpan<int> g, Span<int> u)
    {
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
            {
                int sum = 0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 3; b++) sum += G2[i, a] * g[3 * a + b] * G2[j, b];
                u[4 * i + j] = sum;
            }
    }

    /// <summary>
    /// One input row as int16 x − z_x split into its even (<paramref name="even"/>) and odd (<paramref name="odd"/>)
    /// columns of the padded row: padded column j is input column j − <paramref name="padLeft"/>, 0 outside the image
    /// (and everywhere when <paramref name="row"/> is null). Both outputs get <paramref name="half"/> values (a multiple
    /// of 16); <paramref name="line"/> is scratch of 2·half int16.
    /// </summary>
    public static void SplitRow(byte* row, int width, int padLeft, short zeroPoint, int half, short* line, short* even, short* odd)
    {
        int length = 2 * half;
        if (row is null)
        {
            new Span<short>(even, half).Clear();
            new Span<short>(odd, half).Clear();
            return;
        }
        int valid = Math.Min(width, length - padLeft);
        new Span<short>(line, padLeft).Clear();
        var zero = Vector256.Create(zeroPoint);
        int ix = 0;
        for (; ix <= valid - 16; ix += 16)
            (Avx2.ConvertToVector256Int16(Vector128.Load(row + ix)) - zero).Store(line + padLeft + ix);
        for (; ix < valid; ix++) line[padLeft + ix] = (short)(row[ix] - zeroPoint);
        if (padLeft + valid < length) new Span<short>(line + padLeft + valid, length - padLeft - valid).Clear();
        // Even columns: each int32's low int16 sign-extended; odd: its high int16. vpackssdw interleaves the 128-bit
        // lanes of its two operands (the values fit, nothing saturates); vpermq puts the quarters back in order.
        for (int k = 0; k < half; k += 16)
        {
            var a = Vector256.Load(line + 2 * k).AsInt32();
            var b = Vector256.Load(line + 2 * k + 16).AsInt32();
            var evens = Avx2.PackSignedSaturate(Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(a, 16), 16),
                Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(b, 16), 16));
            var odds = Avx2.PackSignedSaturate(Avx2.ShiftRightArithmetic(a, 16), Avx2.ShiftRightArithmetic(b, 16));
            Avx2.Permute4x64(evens.AsInt64(), 0xD8).AsInt16().Store(even + k);
            Avx2.Permute4x64(odds.AsInt64(), 0xD8).AsInt16().Store(odd + k);
        }
    }

    /// <summary>
    /// V = Bᵀ d B of 16 adjacent tiles from the split rows of their 4 input rows (row r at <paramref name="even"/> +
    /// r·<paramref name="stride"/>, the tiles' first column pair at index 0): out[ξ] holds the 16 tiles' V[ξ].
    /// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Input16(short* even, short* odd, int stride, Vector256<short>* output)
    {
        for (int j = 0; j < 4; j++)
        {
            var h0 = Columns(j, even, odd);
            var h1 = Columns(j, even + stride, odd + stride);
            var h2 = Columns(j, even + 2 * stride, odd + 2 * stride);
            var h3 = Columns(j, even + 3 * stride, odd + 3 * stride);
            output[j] = h0 - h2;
            output[4 + j] = h1 + h2;
            output[8 + j] = h2 - h1;
            output[12 + j] = h1 - h3;
        }
    }

    // Column j of d·B for 16 tiles of one row: d0..d3 = even[k], odd[k], even[k + 1], odd[k + 1].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Columns(int j, short* even, short* odd) => j switch
    {
        0 => Vector256.Load(even) - Vector256.Load(even + 1),
        1 => Vector256.Load(odd) + Vector256.Load(even + 1),
        2 => Vector256.Load(even + 1) - Vector256.Load(odd),
        _ => Vector256.Load(odd) - Vector256.Load(odd + 1),
    };

    /// <summary>
    /// Stores the V[ξ] of two channels, <paramref name="first"/> (channel 2p) and <paramref name="second"/> (2p + 1), as
    /// 16 int16 pairs per ξ at <paramref name="v"/> + ξ·<paramref name="xiStride"/> (int32 units), tiles in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePairs(Vector256<short>* first, Vector256<short>* second, int* v, long xiStride)
    {
        for (int xi = 0; xi < 16; xi++)
        {
            // vpunpck*wd interleave within 128-bit lanes: tiles {0–3, 8–11} and {4–7, 12–15}; vperm2i128 reorders.
            var low = Avx2.UnpackLow(first[xi], second[xi]).AsInt32();
            var high = Avx2.UnpackHigh(first[xi], second[xi]).AsInt32();
            int* at = v + xi * xiStride;
            Avx2.Permute2x128(low, high, 0x20).Store(at);
            Avx2.Permute2x128(low, high, 0x31).Store(at + 8);
        }
    }

    /// <summary>
    /// The 2×2 outputs of 8 adjacent tiles, acc = Aᵀ M A / 4 + bias with Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]], from the
    /// 16 products M[ξ] at <paramref name="m"/> + ξ·<paramref name="xiStride"/>: 16 int32 into each of the two output
    /// rows <paramref name="top"/> and <paramref name="bottom"/> (columns 2t and 2t + 1 of tile t).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Output8(int* m, long xiStride, Vector256<int> bias, int* top, int* bottom)
    {
        Vector256<int> s00, s01, s02, s03, s10, s11, s12, s13;
        {
            var m0 = Vector256.Load(m); var m4 = Vector256.Load(m + 4 * xiStride);
            var m8 = Vector256.Load(m + 8 * xiStride); var m12 = Vector256.Load(m + 12 * xiStride);
            s00 = m0 + m4 + m8; s10 = m4 - m8 - m12;
        }
        {
            var m1 = Vector256.Load(m + xiStride); var m5 = Vector256.Load(m + 5 * xiStride);
            var m9 = Vector256.Load(m + 9 * xiStride); var m13 = Vector256.Load(m + 13 * xiStride);
            s01 = m1 + m5 + m9; s11 = m5 - m9 - m13;
        }
        {
            var m2 = Vector256.Load(m + 2 * xiStride); var m6 = Vector256.Load(m + 6 * xiStride);
            var m10 = Vector256.Load(m + 10 * xiStride); var m14 = Vector256.Load(m + 14 * xiStride);
            s02 = m2 + m6 + m10; s12 = m6 - m10 - m14;
        }
        {
            var m3 = Vector256.Load(m + 3 * xiStride); var m7 = Vector256.Load(m + 7 * xiStride);
            var m11 = Vector256.Load(m + 11 * xiStride); var m15 = Vector256.Load(m + 15 * xiStride);
            s03 = m3 + m7 + m11; s13 = m7 - m11 - m15;
        }
        StoreRow(Avx2.ShiftRightArithmetic(s00 + s01 + s02, 2) + bias, Avx2.ShiftRightArithmetic(s01 - s02 - s03, 2) + bias, top);
        StoreRow(Avx2.ShiftRightArithmetic(s10 + s11 + s12, 2) + bias, Avx2.ShiftRightArithmetic(s11 - s12 - s13, 2) + bias, bottom);
    }

    // Left and right outputs of 8 tiles interleaved into 16 consecutive columns.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(Vector256<int> left, Vector256<int> right, int* row)
    {
        var low = Avx2.UnpackLow(left, right);    // tiles 0, 1 | 4, 5
        var high = Avx2.UnpackHigh(left, right);  // tiles 2, 3 | 6, 7
        Avx2.Permute2x128(low, high, 0x20).Store(row);
        Avx2.Permute2x128(low, high, 0x31).Store(row + 8);
    }
}
