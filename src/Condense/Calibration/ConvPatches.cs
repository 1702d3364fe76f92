// A seeded reservoir sample of a 2-D convolution's input patches: the rows of im2col, each the C·kH·kW inputs one output
// position reads (zeros where it reaches into the padding), laid out as the weight (C, kH, kW) so that output channel o
// at that position is W[o] · patch (one group: the group's C/G channels are a contiguous run of the patch). What AdaRound
// reconstructs a Conv layer's output on; memory stays at rows × C·kH·kW however many images pass.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Calibration;

/// <summary>Sampled input patches of one Conv layer over the calibration data.</summary>
internal sealed class ConvPatches
{
    private readonly Node _conv;
    private readonly int[] _weightShape;
    private readonly List<float[]> _sample;
    private long _seen;

    /// <summary>Samples at most <paramref name="rows"/> patches of <paramref name="conv"/>, whose weight has <paramref name="weightShape"/>.</summary>
    public ConvPatches(Node conv, int[] weightShape, int rows)
    {
        if (weightShape.Length != 4) throw new CondenseException($"node '{conv.Name}': patches are sampled for 2-D convolutions only");
        (_conv, _weightShape, Rows) = (conv, weightShape, rows);
        _sample = new List<float[]>(rows);
    }

    /// <summary>The most patches kept.</summary>
    public int Rows { get; }

    /// <summary>Inputs per patch: C·kH·kW.</summary>
    public int Width => _weightShape[1] * (int)_conv.Int("group", 1) * _weightShape[2] * _weightShape[3];

    /// <summary>Offers every output position of <paramref name="x"/> (N, C, H, W) to the reservoir (Vitter's algorithm R).</summary>
    public void Add(Tensor x, Rng rng)
    {
        var (positions, taps) = Positions(_conv, _weightShape, x);
        for (int n = 0; n < x.Shape[0]; n++)
            foreach (var (top, left) in positions)
            {
                _seen++;
                int slot = _sample.Count < Rows ? _sample.Count : rng.NextInt((int)Math.Min(_seen, int.MaxValue));
                if (slot >= Rows) continue;
                var patch = new float[Width];
                Patch(x, n, top, left, taps, patch);
                if (slot == _sample.Count) _sample.Add(patch);
                else _sample[slot] = patch;
            }
    }

    /// <summary>
    /// Every patch of <paramref name="x"/> (N, C, H, W) that <paramref name="conv"/> (one group, weight
    /// <paramref name="weightShape"/>) reads: im2col as [N · outH · outW, C · kH · kW], image by image, row-major positions.
    /// </summary>
    public static Tensor All(Node conv, int[] weightShape, Tensor x)
    {
        var (positions, taps) = Positions(conv, weightShape, x);
        int width = x.Shape[1] * weightShape[2] * weightShape[3];
        var rows = new float[x.Shape[0] * positions.Count * width];
        int at = 0;
        for (int n = 0; n < x.Shape[0]; n++)
            foreach (var (top, left) in positions)
            {
                Patch(x, n, top, left, taps, rows.AsSpan(at, width));
                at += width;
            }
        return new Tensor(rows, x.Shape[0] * positions.Count, width);
    }

    // The kernel's taps: kH × kW, dilation apart.
    private readonly record struct Taps(int KH, int KW, int DilationH, int DilationW);

    // The top-left tap (row, column; negative inside the padding) of every output position, row-major, and the taps.
    private static (List<(int Top, int Left)> Positions, Taps Taps) Positions(Node conv, int[] weightShape, Tensor x)
    {
        if (weightShape.Length != 4 || x.Rank != 4 || x.Shape[1] != weightShape[1] * (int)conv.Int("group", 1))
            throw new CondenseException($"node '{conv.Name}': input {Shape.Format(x.Shape)} does not match its weight {Shape.Format(weightShape)}");
        var o = GraphOps.ConvOptions(conv, x.Shape, weightShape);
        int kH = weightShape[2], kW = weightShape[3], height = x.Shape[2], width = x.Shape[3];
        int outH = (height + o.PadTop + o.PadBottom - o.DilationH * (kH - 1) - 1) / o.StrideH + 1;
        int outW = (width + o.PadLeft + o.PadRight - o.DilationW * (kW - 1) - 1) / o.StrideW + 1;
        var positions = new List<(int, int)>(outH * outW);
        for (int p = 0; p < outH * outW; p++) positions.Add((p / outW * o.StrideH - o.PadTop, p % outW * o.StrideW - o.PadLeft));
        return (positions, new Taps(kH, kW, o.DilationH, o.DilationW));
    }

    /// <summary>The sampled patches as a [rows, C·kH·kW] tensor.</summary>
    public Tensor Sample() => new([.. _sample.SelectMany(r => r)], _sample.Count, Width);

    // x is (N, C, H, W); the patch whose top-left tap is at (top, left), taps dilation apart, zero outside the image.
    private static void Patch(Tensor x, int n, int top, int left, Taps taps, Span<float> patch)
    {
        int channels = x.Shape[1], height = x.Shape[2], width = x.Shape[3], kH = taps.KH, kW = taps.KW;
        patch.Clear();
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < kH; i++)
            {
                int row = top + i * taps.DilationH;
                if (row < 0 || row >= height) continue;
                int image = ((n * channels + c) * height + row) * width;
                for (int j = 0; j < kW; j++)
                {
                    int column = left + j * taps.DilationW;
                    if (column >= 0 && column < width) patch[(c * kH + i) * kW + j] = x.Data[image + column];
                }
            }
    }
}
