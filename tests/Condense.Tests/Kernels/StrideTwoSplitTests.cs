// StrideTwoSplit against a plain loop, for every row length through the vector width and past it (the
// vectorised steps plus every tail), with and without the odd elements; nothing is written past them.
using Condense.Kernels.Conv;

namespace Condense.Tests.Kernels;

public class StrideTwoSplitTests
{
    [Fact]
    public unsafe void SplitsEvensAndOddsLikeAPlainLoop()
    {
        for (int count = 0; count <= 41; count++)
            foreach (bool withOdds in new[] { true, false })
            {
                var src = Enumerable.Range(0, count).Select(i => i * 1.5f - 7f).ToArray();
                var evens = new float[count / 2 + 4];
                var odds = new float[count / 2 + 4];
                Array.Fill(evens, float.NaN);
                Array.Fill(odds, float.NaN);
                fixed (float* s = src, e = evens, o = odds)
                    StrideTwoSplit.Split(s, count, e, withOdds ? o : null);
                for (int j = 0; j < evens.Length; j++)
                {
                    if (2 * j < count) Assert.Equal(src[2 * j], evens[j]);
                    else Assert.True(float.IsNaN(evens[j]), $"count {count}: evens[{j}] written");
                    if (withOdds && 2 * j + 1 < count) Assert.Equal(src[2 * j + 1], odds[j]);
                    else Assert.True(float.IsNaN(odds[j]), $"count {count}: odds[{j}] written");
                }
            }
    }
}
