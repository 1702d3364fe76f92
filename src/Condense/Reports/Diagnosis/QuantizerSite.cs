// Where a compressed node's input passes through a quantizer: DequantizeLinear(QuantizeLinear(v, s, z)) with a
// per-tensor scale (static), or DequantizeLinear(DynamicQuantizeLinear(v)). Over the batches it counts the values of v
// that saturate — beyond half a step outside the representable range s·(qmin − z) … s·(qmax − z), ONNX's QuantizeLinear
// saturation — and, for a Gemm/MatMul/Conv's activation input, each channel's max |v|: a few channels far above the
// median one (LLM.int8(), Dettmers et al. 2022; SmoothQuant, Xiao et al. 2023) take the one scale's levels from all others.
namespace Condense.Reports.Diagnosis;

internal sealed class QuantizerSite
{
    private long _count, _clipped;
    private double[]? _channelMax;

    /// <param name="value">The compressed model's value that is quantized.</param>
    /// <param name="range">
    /// The representable range and step of a static quantizer (null for a dynamic one), and whether values below it count as clipped:
    /// not when the zero point is qmin, where clamping at 0 is the ReLU a QOperator layer fuses into its output.
    /// </param>
    /// <param name="channelAxis">The channel axis of a layer's activation input (−1: the last axis), or null.</param>
    public QuantizerSite(string value, (float Low, float High, float Step, bool ClipsBelow)? range, int? channelAxis)
    {
        Value = value;
        Range = range;
        ChannelAxis = channelAxis;
    }

    public string Value { get; }
    public (float Low, float High, float Step, bool ClipsBelow)? Range { get; }
    public int? ChannelAxis { get; }

    /// <summary>Adds one batch of the quantized value.</summary>
    public void Add(ReadOnlySpan<float> v, int[] shape)
    {
        _count += v.Length;
        if (Range is var (low, high, step, clipsBelow))
        {
            float below = clipsBelow ? low - step / 2 : float.NegativeInfinity, above = high + step / 2;
            foreach (float x in v) if (x < below || x > above) _clipped++;
        }
        if (ChannelAxis is not int axis || shape.Length == 0) return;
        if (axis < 0) axis = shape.Length - 1;
        int channels = shape[axis], inner = 1;
        for (int d = axis + 1; d < shape.Length; d++) inner *= shape[d];
        if (_channelMax is null) _channelMax = new double[channels];
        else if (_channelMax.Length != channels) return;
        for (int i = 0; i < v.Length; i++)
        {
            int c = i / inner % channels;
            _channelMax[c] = Math.Max(_channelMax[c], Math.Abs(v[i]));
        }
    }

    /// <summary>The site's report, channel outliers judged against <paramref name="outlierRatio"/>.</summary>
    public QuantizedInput Report(double outlierRatio)
    {
        double clipped = _count > 0 ? _clipped / (double)_count : 0;
        if (_channelMax is not { Length: > 0 } maxima)
            return new QuantizedInput(Value, Range is null, Range?.Low, Range?.High, clipped, 0, 0, 0);
        // Channels that are always zero (dead ReLUs, image borders) are no yardstick for the others.
        var live = maxima.Where(m => m > 0).Order().ToArray();
        double median = live.Length == 0 ? 0 : live.Length % 2 == 1 ? live[live.Length / 2] : (live[live.Length / 2 - 1] + live[live.Length / 2]) / 2;
        double ratio = median > 0 ? live[^1] / median : 0;
        int outliers = median > 0 ? maxima.Count(m => m > outlierRatio * median) : 0;
        return new QuantizedInput(Value, Range is null, Range?.Low, Range?.High, clipped, maxima.Length, outliers, ratio);
    }
}
