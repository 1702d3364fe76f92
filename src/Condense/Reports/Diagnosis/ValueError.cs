// The error of one value streamed over batches: sums in double of ref², (ref − x)², ref·x and x², the largest |ref − x|
// and the reference's range, so SQNR = 10·log10(Σ ref² / Σ (ref − x)²) and cosine = Σ ref·x / √(Σ ref² Σ x²) come out
// exact for any number of batches. Per channel it also keeps Σ ref·x, Σ x² and Σ ref²: the least-squares gain of a
// channel, a_c = Σ ref·x / Σ x², and the error left after it, Σ ref² − (Σ ref·x)² / Σ x², tell a value that a pass
// rescaled per channel (cross-layer equalization) from one it damaged. A second pass with the gains applied measures the
// rescaled value itself.
namespace Condense.Reports.Diagnosis;

internal sealed class ValueError
{
    private double _refSquares, _errorSquares, _dot, _xSquares, _maxAbsError;
    private double[]? _channelDot, _channelX, _channelRef;
    private bool _channelsVary;

    /// <param name="gains">Per-channel factors the compressed value is multiplied by before comparing (a second pass), or null.</param>
    public ValueError(float[]? gains = null) => Gains = gains;

    /// <summary>The per-channel factors applied to the compressed value, or null.</summary>
    public float[]? Gains { get; }

    public float Min { get; private set; } = float.PositiveInfinity;
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <summary>10·log10(Σ ref² / Σ (ref − x)²): +∞ when exact, −∞ when the reference is all zero and x is not.</summary>
    public double SqnrDb => Sqnr(_refSquares, _errorSquares);

    /// <summary>The cosine of the flattened tensors: 1 when both are zero, 0 when one is.</summary>
    public double Cosine => _refSquares == 0 && _xSquares == 0 ? 1 : _refSquares == 0 || _xSquares == 0 ? 0 : _dot / Math.Sqrt(_refSquares * _xSquares);

    public double MaxAbsError => _maxAbsError;

    /// <summary>Elements compared so far.</summary>
    public long Elements { get; private set; }

    /// <summary>Adds one batch: the reference values and the compressed <paramref name="x"/>, both of <paramref name="shape"/>.</summary>
    public void Add(ReadOnlySpan<float> reference, ReadOnlySpan<float> x, int[] shape)
    {
        var (outer, channels, inner) = ChannelLayout(shape);
        Elements += reference.Length;
        if (Gains is not null && Gains.Length != channels) throw new InvalidOperationException("the gains do not fit the value's channels");
        if (_channelDot is null) (_channelDot, _channelX, _channelRef) = (new double[channels], new double[channels], new double[channels]);
        // Channels that change between batches (a sequence length on the last axis) have no gain of their own.
        _channelsVary |= _channelDot.Length != channels;
        var (channelDot, channelX, channelRef) = _channelsVary ? (new double[channels], new double[channels], new double[channels])
            : (_channelDot, _channelX!, _channelRef!);
        int i = 0;
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < channels; c++)
            {
                float gain = Gains?[c] ?? 1f;
                double dot = 0, xx = 0, rr = 0, ee = 0, maxError = _maxAbsError;
                float min = Min, max = Max;
                for (int j = 0; j < inner; j++, i++)
                {
                    float r = reference[i], v = x[i] * gain;
                    double e = (double)r - v;
                    dot += (double)r * v; xx += (double)v * v; rr += (double)r * r; ee += e * e;
                    maxError = Math.Max(maxError, Math.Abs(e));
                    min = Math.Min(min, r); max = Math.Max(max, r);
                }
                channelDot[c] += dot; channelX[c] += xx; channelRef[c] += rr;
                _dot += dot; _xSquares += xx; _refSquares += rr; _errorSquares += ee;
                _maxAbsError = maxError; Min = min; Max = max;
            }
    }

    /// <summary>The least-squares gain of each channel (1 where the compressed channel is all zero); null when the channels vary.</summary>
    public float[]? FittedGains() => _channelsVary || _channelDot is null ? null
        : [.. _channelDot.Select((d, c) => _channelX![c] > 0 ? (float)(d / _channelX[c]) : 1f)];

    /// <summary>The SQNR after each channel of x is multiplied by its least-squares gain (−∞ when the channels vary).</summary>
    public double RescaledSqnrDb()
    {
        if (_channelsVary || _channelDot is null) return double.NegativeInfinity;
        double error = 0;
        for (int c = 0; c < _channelDot!.Length; c++)
            error += _channelX![c] > 0 ? Math.Max(0, _channelRef![c] - _channelDot[c] * _channelDot[c] / _channelX[c]) : _channelRef![c];
        return Sqnr(_refSquares, error);
    }

    /// <summary>The channel axis of a value: 1 for images (rank 4 and up, NCHW), the last axis otherwise (features of rows or tokens).</summary>
    public static int ChannelAxis(int rank) => rank >= 4 ? 1 : rank - 1;

    // The value as outer × channels × inner, the channels along ChannelAxis; a scalar is one channel.
    private static (int Outer, int Channels, int Inner) ChannelLayout(int[] shape)
    {
        if (shape.Length == 0) return (1, 1, 1);
        int axis = ChannelAxis(shape.Length), outer = 1, inner = 1;
        for (int d = 0; d < axis; d++) outer *= shape[d];
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        return (outer, shape[axis], inner);
    }

    private static double Sqnr(double signal, double noise) =>
        noise == 0 ? double.PositiveInfinity : signal == 0 ? double.NegativeInfinity : 10 * Math.Log10(signal / noise);
}
