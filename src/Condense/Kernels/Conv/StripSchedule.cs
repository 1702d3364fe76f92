// How the strip forms of a stride-1 1×1 convolution (fp32 Conv2dGemm.Strips, int8 QConv2dQuads.Strips) cut one call
// between the threads: units of (image, strip of pixels, block of output channels), each part a contiguous range of them.
// With fewer than two strips per thread the output channels are cut into blocks of whole tile panels too (each block
// copies its own strip); otherwise a unit is a strip over every channel.
using Condense.Kernels.Platform;

namespace Condense.Kernels.Conv;

/// <summary>The units of one strip-form call and the range of them each part takes.</summary>
internal readonly struct StripSchedule
{
    private readonly int _width, _panelRows, _pixels, _outChannels, _strips, _panels, _blocks;

    /// <summary>
    /// <paramref name="batch"/> images of <paramref name="pixels"/> pixels cut into strips of <paramref name="width"/>,
    /// <paramref name="outChannels"/> cut into panels of <paramref name="panelRows"/>; on the calling thread's thread budget
    /// when <paramref name="parallel"/>, else on one thread.
    /// </summary>
    public StripSchedule(int batch, int pixels, int outChannels, int width, int panelRows, bool parallel)
    {
        (_width, _panelRows, _pixels, _outChannels) = (width, panelRows, pixels, outChannels);
        _strips = (pixels + width - 1) / width;
        _panels = (outChannels + panelRows - 1) / panelRows;
        int threads = parallel ? Cpu.Threads : 1;
        long stripsInAll = (long)batch * _strips;
        _blocks = (int)Math.Clamp((2L * threads + stripsInAll - 1) / stripsInAll, 1, _panels);
        Units = stripsInAll * _blocks;
        Parts = (int)Math.Min(threads, Units);
    }

    /// <summary>How many units the call has.</summary>
    public long Units { get; }

    /// <summary>How many parts (threads) run them.</summary>
    public int Parts { get; }

    /// <summary>The units [First, End) of part <paramref name="part"/>.</summary>
    public (long First, long End) Range(int part) => (Units * part / Parts, Units * (part + 1) / Parts);

    /// <summary>Unit <paramref name="unit"/>: its image, first pixel, pixel count (the last strip's may be short) and channels.</summary>
    public StripUnit At(long unit)
    {
        long s = unit / _blocks;
        int block = (int)(unit % _blocks), pixel = (int)(s % _strips) * _width;
        return new StripUnit((int)(s / _strips), pixel, Math.Min(_width, _pixels - pixel),
            _panels * block / _blocks * _panelRows, Math.Min(_outChannels, _panels * (block + 1) / _blocks * _panelRows));
    }
}

/// <summary>One unit of a <see cref="StripSchedule"/>: pixels [Pixel, Pixel + Columns) of an image, channels [FirstChannel, EndChannel).</summary>
internal readonly record struct StripUnit(int Image, int Pixel, int Columns, int FirstChannel, int EndChannel);
