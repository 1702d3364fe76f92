// A fixed-size histogram fed batch by batch, for the histogram-based observers. Bins are equal-width over
// [Lower, Upper]; memory is O(bins) whatever the number of samples. When a batch falls outside the range,
// the range widens the way PyTorch's HistogramObserver does in spirit (combine the old histogram into a
// wider one), but aligned so no count is ever split: the new bin width is an integer multiple k of the
// old one and the new lower edge lies a whole number m of old bins below the old one, so each old bin
// falls entirely inside new bin ⌊(m + j) / k⌋. The counts stay exact integers; only resolution is lost.
// A batch inside the current range is simply counted, so streaming equals one big batch as long as the
// first batch spans the data. Within a bin, values are taken as uniformly spread.
namespace Condense.Quantization.Observers;

/// <summary>An equal-width histogram with a range that grows to cover every batch.</summary>
public sealed class StreamingHistogram
{
    private readonly double[] _counts;
    private double _lower, _width;

    /// <summary>Creates an empty histogram of <paramref name="bins"/> bins.</summary>
    public StreamingHistogram(int bins = 2048)
    {
        if (bins < 2) throw new CondenseException($"a histogram needs at least 2 bins, got {bins}");
        _counts = new double[bins];
    }

    /// <summary>The number of bins (constant).</summary>
    public int Bins => _counts.Length;

    /// <summary>The counts per bin.</summary>
    public ReadOnlySpan<double> Counts => _counts;

    /// <summary>The number of values counted.</summary>
    public double Total { get; private set; }

    /// <summary>The lower edge of bin 0.</summary>
    public double Lower => _lower;

    /// <summary>The width of every bin (0 while all values seen are equal).</summary>
    public double BinWidth => _width;

    /// <summary>The upper edge of the last bin.</summary>
    public double Upper => _lower + _width * Bins;

    /// <summary>The smallest finite value seen.</summary>
    public float DataMin { get; private set; } = float.PositiveInfinity;

    /// <summary>The largest finite value seen.</summary>
    public float DataMax { get; private set; } = float.NegativeInfinity;

    /// <summary>Forgets all counts.</summary>
    public void Clear()
    {
        Array.Clear(_counts);
        Total = 0;
        _lower = _width = 0;
        DataMin = float.PositiveInfinity;
        DataMax = float.NegativeInfinity;
    }

    /// <summary>Counts the finite values of a batch, widening the range first if they fall outside it.</summary>
    public void Add(ReadOnlySpan<float> batch)
    {
        if (!MinMaxObserver.BatchMinMax(batch, out float min, out float max)) return;
        if (Total == 0)
        {
            _lower = min;
            _width = ((double)max - min) / Bins;
        }
        else if (min < _lower || max > Upper)
            Grow(min, max);
        DataMin = MathF.Min(DataMin, min);
        DataMax = MathF.Max(DataMax, max);
        foreach (float v in batch)
        {
            if (!float.IsFinite(v)) continue;
            _counts[Index(v)]++;
            Total++;
        }
    }

    /// <summary>The bin a value falls in (values on the upper edge go to the last bin).</summary>
    public int Index(double v)
    {
        if (_width == 0) return 0;
        double i = Math.Floor((v - _lower) / _width);
        return (int)Math.Clamp(i, 0, Bins - 1);
    }

    private void Grow(double min, double max)
    {
        double newMin = Math.Min(_lower, min), newMax = Math.Max(Upper, max);
        if (_width == 0)
        {
            // Every value so far equals _lower: move its whole count into the new grid.
            double at = _lower;
            Array.Clear(_counts);
            _lower = newMin;
            _width = (newMax - newMin) / Bins;
            _counts[Index(at)] = Total;
            return;
        }
        long m = min < _lower ? (long)Math.Ceiling((_lower - min) / _width) : 0;
        double spanInOldBins = m + (newMax - _lower) / _width;
        long k = Math.Max(1, (long)Math.Ceiling(spanInOldBins / Bins));
        var old = (double[])_counts.Clone();
        Array.Clear(_counts);
        for (int j = 0; j < old.Length; j++)
            _counts[(int)Math.Min((m + j) / k, Bins - 1)] += old[j];
        _lower -= m * _width;
        _width *= k;
    }

    /// <summary>
    /// The value below which <paramref name="mass"/> counts lie, interpolating linearly inside a bin,
    /// clamped to [DataMin, DataMax].
    /// </summary>
    public double Quantile(double mass)
    {
        double cumulative = 0;
        for (int i = 0; i < Bins; i++)
        {
            double c = _counts[i];
            if (c > 0 && cumulative + c >= mass)
                return Clamp(_lower + (i + (mass - cumulative) / c) * _width);
            cumulative += c;
        }
        return DataMax;
    }

    /// <summary>The number of counts inside [a, b], interpolating linearly inside a bin.</summary>
    public double MassWithin(double a, double b)
    {
        if (b < a) return 0;
        if (_width == 0) return a <= _lower && _lower <= b ? Total : 0;
        double mass = 0;
        for (int i = 0; i < Bins; i++)
        {
            double e0 = _lower + i * _width, e1 = e0 + _width;
            double overlap = Math.Min(b, e1) - Math.Max(a, e0);
            if (overlap > 0) mass += _counts[i] * Math.Min(1, overlap / _width);
        }
        return mass;
    }

    /// <summary>
    /// The expected squared error of quantizing the histogram's values with <paramref name="p"/>, per value:
    /// Σ_bins count · (1/w) ∫_bin (x − x̂(x))² dx, integrated exactly over the rounding cells and the clipped tails.
    /// </summary>
    public double ExpectedQuantizationMse(QuantParams p)
    {
        if (Total == 0) return 0;
        double s = p.Scale, z = p.ZeroPoint;
        double sum = 0;
        for (int i = 0; i < Bins; i++)
        {
            if (_counts[i] == 0) continue;
            // In units u = x / s + z the quantizer rounds u to the nearest integer in [qmin, qmax],
            // and (x − x̂)² = s² (u − round(u))².
            double u0 = (_lower + i * _width) / s + z, u1 = (_lower + (i + 1) * _width) / s + z;
            double meanSquare = u1 > u0
                ? CellIntegral(u0, u1, p.Range.QMin, p.Range.QMax) / (u1 - u0)
                : Square(u0 - Math.Clamp(Math.Round(u0), p.Range.QMin, p.Range.QMax));
            sum += _counts[i] * s * s * meanSquare;
        }
        return sum / Total;
    }

    // ∫ from u0 to u1 of (u − t(u))² du, t(u) = clamp(round(u), qmin, qmax): piecewise over the cells [k − ½, k + ½].
    private static double CellIntegral(double u0, double u1, int qMin, int qMax)
    {
        double total = 0, a = u0;
        while (a < u1)
        {
            int k = (int)Math.Clamp(Math.Floor(a + 0.5), qMin, qMax);
            double b = k == qMax ? u1 : Math.Min(u1, k + 0.5);
            total += (Cube(b - k) - Cube(a - k)) / 3;
            a = b;
        }
        return total;
    }

    private double Clamp(double v) => Math.Clamp(v, DataMin, DataMax);
    private static double Square(double v) => v * v;
    private static double Cube(double v) => v * v * v;
}
