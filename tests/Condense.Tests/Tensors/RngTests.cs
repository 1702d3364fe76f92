using Condense.Tensors;

namespace Condense.Tests.Tensors;

public class RngTests
{
    [Fact]
    public void SameSeedGivesSameSequence()
    {
        var a = new Rng(42); var b = new Rng(42); var c = new Rng(43);
        var sa = Enumerable.Range(0, 100).Select(_ => a.NextUInt64()).ToArray();
        var sb = Enumerable.Range(0, 100).Select(_ => b.NextUInt64()).ToArray();
        var sc = Enumerable.Range(0, 100).Select(_ => c.NextUInt64()).ToArray();
        Assert.Equal(sa, sb);
        Assert.NotEqual(sa, sc);
    }

    [Fact]
    public void UniformAndNormalHaveTheRightMoments()
    {
        var rng = new Rng(1);
        const int n = 200_000;
        double sum = 0, sumSq = 0, nsum = 0, nsumSq = 0;
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextFloat(); sum += u; sumSq += u * u;
            Assert.InRange(u, 0.0, 0.99999999);
            double z = rng.NextNormal(); nsum += z; nsumSq += z * z;
        }
        Assert.InRange(sum / n, 0.495, 0.505);
        Assert.InRange(sumSq / n - (sum / n) * (sum / n), 1 / 12.0 - 0.002, 1 / 12.0 + 0.002);
        Assert.InRange(nsum / n, -0.01, 0.01);
        Assert.InRange(nsumSq / n, 0.98, 1.02);
    }

    [Fact]
    public void NextIntCoversTheRangeEvenly()
    {
        var rng = new Rng(7);
        var counts = new int[7];
        for (int i = 0; i < 70_000; i++) counts[rng.NextInt(7)]++;
        Assert.All(counts, c => Assert.InRange(c, 9_500, 10_500));
    }
}
