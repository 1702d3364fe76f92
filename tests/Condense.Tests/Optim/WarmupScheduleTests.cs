// WarmupSchedule against the closed forms of Hugging Face's get_linear/cosine/constant_schedule_with_warmup
// (and their min-rate variants), at hand-picked steps: start, mid-warm-up, peak, mid-decay, end, past the end.
using Condense.Nn;
using Condense.Optim;

namespace Condense.Tests.Optim;

public sealed class WarmupScheduleTests
{
    private const float Peak = 2e-3f;

    private static Optimizer NewOptimizer() => new AdamW([new Parameter([0f], 1)], Peak);

    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(1, Peak * 1 / 4.0)]
    [InlineData(3, Peak * 3 / 4.0)]
    [InlineData(4, Peak)]                  // end of warm-up: the peak
    [InlineData(5, Peak * 15 / 16.0)]      // (T − s)/(T − w) = 15/16
    [InlineData(12, Peak * 8 / 16.0)]
    [InlineData(19, Peak * 1 / 16.0)]
    [InlineData(20, 0.0)]
    [InlineData(35, 0.0)]                  // past the end: stays at 0
    public void LinearMatchesHuggingFace(int step, double expected)
    {
        var schedule = new WarmupSchedule(NewOptimizer(), warmupSteps: 4, totalSteps: 20, DecayKind.Linear);
        Assert.Equal(expected, schedule.RateAt(step), 9);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(10)]
    [InlineData(13)]
    [InlineData(15)]
    [InlineData(40)]
    public void CosineMatchesHuggingFace(int step)
    {
        const int warmup = 5, total = 15;
        // lr_lambda of get_cosine_schedule_with_warmup with num_cycles = 0.5.
        double expected = step < warmup
            ? Peak * (double)step / warmup
            : Peak * Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * 2 * 0.5 * Math.Min(1.0, (step - warmup) / (double)(total - warmup)))));
        var schedule = new WarmupSchedule(NewOptimizer(), warmup, total, DecayKind.Cosine);
        Assert.Equal(expected, schedule.RateAt(step), 9);
    }

    [Fact]
    public void CosineIsHalfThePeakHalfwayThroughTheDecay()
    {
        var schedule = new WarmupSchedule(NewOptimizer(), 10, 30, DecayKind.Cosine);
        Assert.Equal(Peak / 2, schedule.RateAt(20), 9);
        Assert.Equal(Peak, schedule.RateAt(10), 9);
    }

    [Theory]
    [InlineData(DecayKind.Linear, 8, 0.25)]   // floor + (peak − floor)·(1 − 6/8)
    [InlineData(DecayKind.Cosine, 6, 0.5)]    // halfway: (1 + cos(π/2))/2
    [InlineData(DecayKind.Linear, 10, 0.0)]
    [InlineData(DecayKind.Cosine, 10, 0.0)]
    [InlineData(DecayKind.Cosine, 99, 0.0)]
    public void DecayEndsAtTheFloor(DecayKind decay, int step, double factor)
    {
        const float floor = 2e-4f;
        // get_polynomial_decay_schedule_with_warmup(power = 1) / get_cosine_with_min_lr_schedule_with_warmup.
        var schedule = new WarmupSchedule(NewOptimizer(), warmupSteps: 2, totalSteps: 10, decay, minRate: floor);
        Assert.Equal(floor + (Peak - floor) * factor, schedule.RateAt(step), 9);
        Assert.Equal(Peak / 2, schedule.RateAt(1), 9); // warm-up still starts from 0, not from the floor
    }

    [Fact]
    public void ConstantHoldsThePeakAfterWarmup()
    {
        var schedule = new WarmupSchedule(NewOptimizer(), 3, 3, DecayKind.Constant);
        Assert.Equal(Peak / 3, schedule.RateAt(1), 9);
        Assert.Equal(Peak, schedule.RateAt(3), 9);
        Assert.Equal(Peak, schedule.RateAt(1000), 9);
    }

    [Fact]
    public void StepSetsTheOptimizerRateAndConstructionSetsStepZero()
    {
        var optimizer = NewOptimizer();
        var schedule = new WarmupSchedule(optimizer, warmupSteps: 2, totalSteps: 6, DecayKind.Linear);
        Assert.Equal(0f, optimizer.LearningRate); // as LambdaLR: the rate for step 0 is set at once
        float[] expected = [Peak / 2, Peak, Peak * 3 / 4, Peak / 2, Peak / 4, 0f, 0f];
        for (int i = 0; i < expected.Length; i++)
        {
            schedule.Step();
            Assert.Equal(i + 1, schedule.StepCount);
            Assert.Equal(expected[i], optimizer.LearningRate, 1e-9f);
        }
        Assert.Equal(Peak, optimizer.InitialLearningRate);
    }

    [Fact]
    public void NoWarmupStartsAtThePeak()
    {
        var optimizer = NewOptimizer();
        var schedule = new WarmupSchedule(optimizer, 0, 4, DecayKind.Cosine);
        Assert.Equal(Peak, optimizer.LearningRate);
        Assert.Equal(Peak, schedule.RateAt(0));
    }

    [Theory]
    [InlineData(-1, 10, 0f)]
    [InlineData(5, 4, 0f)]
    [InlineData(0, 4, -1e-4f)]
    [InlineData(0, 4, 1f)]
    [InlineData(0, 4, float.NaN)]
    public void InvalidSettingsThrowCondenseException(int warmup, int total, float minRate)
    {
        var e = Assert.Throws<CondenseException>(() => new WarmupSchedule(NewOptimizer(), warmup, total, DecayKind.Linear, minRate));
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void NegativeStepIsRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupSchedule(NewOptimizer(), 1, 2).RateAt(-1));
}
