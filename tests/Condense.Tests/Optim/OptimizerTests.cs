// Optimizers and schedules against hand-written references of PyTorch's documented algorithms
// (torch.optim.SGD, Adam, AdamW, StepLR, CosineAnnealingLR), run in double over three fixed steps.
using Condense.Nn;
using Condense.Optim;
using Condense.Tensors;

namespace Condense.Tests.Optim;

public sealed class OptimizerTests
{
    private const int Steps = 3;
    private const int Size = 7;

    private static float[] Initial() => Tensor.Uniform(new Rng(11), -1f, 1f, Size).Data;

    // A different, fixed gradient for each step.
    private static float[][] Gradients() =>
        Enumerable.Range(0, Steps).Select(s => Tensor.Uniform(new Rng(100 + (ulong)s), -2f, 2f, Size).Data).ToArray();

    private static float[] RunOptimizer(Func<Parameter, Optimizer> make)
    {
        var p = new Parameter(Initial(), Size);
        var opt = make(p);
        foreach (var g in Gradients())
        {
            p.Grad = new Tensor((float[])g.Clone(), Size);
            opt.Step();
        }
        return p.Data;
    }

    // torch.optim.SGD: g += wd·w; b = g (t = 1) or μ·b + (1 − τ)·g; g = g + μ·b (Nesterov) or b; w −= lr·g.
    private static double[] ReferenceSgd(double lr, double momentum, double weightDecay, bool nesterov, double dampening)
    {
        var w = Initial().Select(x => (double)x).ToArray();
        double[]? b = null;
        foreach (var grad in Gradients())
        {
            var g = grad.Select((x, i) => x + weightDecay * w[i]).ToArray();
            if (momentum != 0)
            {
                b = b is null ? (double[])g.Clone() : b.Select((bi, i) => momentum * bi + (1 - dampening) * g[i]).ToArray();
                g = nesterov ? g.Select((gi, i) => gi + momentum * b[i]).ToArray() : (double[])b.Clone();
            }
            for (int i = 0; i < w.Length; i++) w[i] -= lr * g[i];
        }
        return w;
    }

    // torch.optim.Adam / AdamW: Adam adds wd·w to g; AdamW multiplies w by (1 − lr·wd) first.
    // m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²; w −= lr·(m/(1 − β1ᵗ)) / (√(v/(1 − β2ᵗ)) + ε).
    private static double[] ReferenceAdam(double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
    {
        var w = Initial().Select(x => (double)x).ToArray();
        var m = new double[Size];
        var v = new double[Size];
        var grads = Gradients();
        for (int t = 1; t <= Steps; t++)
        {
            for (int i = 0; i < Size; i++)
            {
                double g = grads[t - 1][i];
                if (decoupled) w[i] *= 1 - lr * weightDecay;
                else g += weightDecay * w[i];
                m[i] = beta1 * m[i] + (1 - beta1) * g;
                v[i] = beta2 * v[i] + (1 - beta2) * g * g;
                double mHat = m[i] / (1 - Math.Pow(beta1, t));
                double vHat = v[i] / (1 - Math.Pow(beta2, t));
                w[i] -= lr * mHat / (Math.Sqrt(vHat) + eps);
            }
        }
        return w;
    }

    private static void AssertClose(double[] expected, float[] actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData(0.1f, 0f, 0f, false, 0f)]      // plain
    [InlineData(0.05f, 0.9f, 0f, false, 0f)]   // momentum
    [InlineData(0.05f, 0.9f, 0f, true, 0f)]    // Nesterov
    [InlineData(0.1f, 0f, 0.01f, false, 0f)]   // weight decay only
    [InlineData(0.05f, 0.8f, 0.03f, false, 0.3f)] // momentum, decay and dampening
    [InlineData(0.02f, 0.7f, 0.05f, true, 0f)] // Nesterov with decay
    public void SgdMatchesTorchAlgorithm(float lr, float momentum, float weightDecay, bool nesterov, float dampening)
    {
        var actual = RunOptimizer(p => new Sgd([p], lr, momentum, weightDecay, nesterov, dampening));
        AssertClose(ReferenceSgd(lr, momentum, weightDecay, nesterov, dampening), actual);
    }

    [Fact]
    public void SgdDampeningDoesNotApplyToFirstStep()
    {
        // torch initialises the buffer with g itself, undamped: the first step is w −= lr·g.
        var p = new Parameter([1f, -2f], 2) { Grad = new Tensor([0.5f, 4f], 2) };
        new Sgd([p], 0.1f, momentum: 0.9f, dampening: 0.5f).Step();
        Assert.Equal(0.95f, p.Data[0], 6);
        Assert.Equal(-2.4f, p.Data[1], 6);
    }

    [Theory]
    [InlineData(1e-2f, 0.9f, 0.999f, 1e-8f, 0f)]
    [InlineData(3e-2f, 0.8f, 0.99f, 1e-6f, 0.1f)]
    [InlineData(1e-1f, 0.5f, 0.9f, 1e-3f, 0.5f)]
    public void AdamMatchesTorchAlgorithm(float lr, float beta1, float beta2, float eps, float weightDecay)
    {
        var actual = RunOptimizer(p => new Adam([p], lr, beta1, beta2, eps, weightDecay));
        AssertClose(ReferenceAdam(lr, beta1, beta2, eps, weightDecay, decoupled: false), actual);
    }

    [Theory]
    [InlineData(1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f)]
    [InlineData(3e-2f, 0.8f, 0.99f, 1e-6f, 0.1f)]
    [InlineData(1e-1f, 0.5f, 0.9f, 1e-3f, 0.5f)]
    public void AdamWMatchesTorchAlgorithm(float lr, float beta1, float beta2, float eps, float weightDecay)
    {
        var actual = RunOptimizer(p => new AdamW([p], lr, beta1, beta2, eps, weightDecay));
        AssertClose(ReferenceAdam(lr, beta1, beta2, eps, weightDecay, decoupled: true), actual);
    }

    [Fact]
    public void AdamAndAdamWDifferOnlyWhenDecayIsNonZero()
    {
        var adam = RunOptimizer(p => new Adam([p], 0.01f, weightDecay: 0f));
        var adamW = RunOptimizer(p => new AdamW([p], 0.01f, weightDecay: 0f));
        Assert.Equal(adam, adamW);
        var adamL2 = RunOptimizer(p => new Adam([p], 0.01f, weightDecay: 0.2f));
        var adamWDecoupled = RunOptimizer(p => new AdamW([p], 0.01f, weightDecay: 0.2f));
        Assert.NotEqual(adamL2, adamWDecoupled);
    }

    [Fact]
    public void AdamFirstStepMovesEachWeightByAboutTheLearningRate()
    {
        // With bias correction, step 1 is lr·g/(|g| + ε) = ±lr for any gradient scale.
        var p = new Parameter([0f, 0f, 0f], 3) { Grad = new Tensor([1e-3f, -5f, 300f], 3) };
        new Adam([p], 0.1f).Step();
        Assert.Equal(-0.1f, p.Data[0], 1e-4f);
        Assert.Equal(0.1f, p.Data[1], 1e-6f);
        Assert.Equal(-0.1f, p.Data[2], 1e-6f);
    }

    public static TheoryData<string> OptimizerKinds => new() { "sgd", "sgd-momentum", "adam", "adamw" };

    private static Optimizer Make(string kind, IEnumerable<Parameter> ps) => kind switch
    {
        "sgd" => new Sgd(ps, 0.1f, weightDecay: 0.1f),
        "sgd-momentum" => new Sgd(ps, 0.1f, momentum: 0.9f, weightDecay: 0.1f),
        "adam" => new Adam(ps, 0.1f, weightDecay: 0.1f),
        _ => new AdamW(ps, 0.1f, weightDecay: 0.1f),
    };

    [Theory]
    [MemberData(nameof(OptimizerKinds))]
    public void ParametersWithoutGradientAreNotTouched(string kind)
    {
        var used = new Parameter([1f, 2f, 3f], 3);
        var unused = new Parameter([4f, 5f], 2);
        var opt = Make(kind, [used, unused]);

        used.Grad = Tensor.Full(1f, 3);
        unused.Grad = Tensor.Full(1f, 2);
        opt.Step();
        var afterFirst = (float[])unused.Data.Clone();
        Assert.NotEqual([4f, 5f], afterFirst);

        // Second step: the unused parameter has no gradient, so neither decay nor momentum move it.
        unused.Grad = null;
        used.Grad = Tensor.Full(1f, 3);
        var usedBefore = (float[])used.Data.Clone();
        opt.Step();
        Assert.Equal(afterFirst, unused.Data);
        Assert.NotEqual(usedBefore, used.Data);
    }

    [Fact]
    public void ZeroGradClearsEveryGradient()
    {
        var a = new Parameter([1f], 1) { Grad = Tensor.Full(2f, 1) };
        var b = new Parameter([1f, 2f], 2) { Grad = Tensor.Full(3f, 2) };
        var opt = new Sgd([a, b], 0.1f);
        opt.ZeroGrad();
        Assert.Null(a.Grad);
        Assert.Null(b.Grad);
        opt.Step(); // nothing to do, nothing changes
        Assert.Equal([1f], a.Data);
        Assert.Equal([1f, 2f], b.Data);
    }

    public static TheoryData<string> BadConstructions => new()
    {
        "lr=0", "lr=-1", "lr=nan", "lr=inf", "sgd momentum<0", "sgd decay<0", "nesterov without momentum",
        "nesterov with dampening", "adam beta1=1", "adam beta2<0", "adam decay<0", "adamw beta1=1",
    };

    [Theory]
    [MemberData(nameof(BadConstructions))]
    public void InvalidSettingsThrowCondenseException(string which)
    {
        Parameter[] ps = [new Parameter([1f], 1)];
        Action make = which switch
        {
            "lr=0" => () => _ = new Sgd(ps, 0f),
            "lr=-1" => () => _ = new Adam(ps, -1f),
            "lr=nan" => () => _ = new Sgd(ps, float.NaN),
            "lr=inf" => () => _ = new AdamW(ps, float.PositiveInfinity),
            "sgd momentum<0" => () => _ = new Sgd(ps, 0.1f, momentum: -0.1f),
            "sgd decay<0" => () => _ = new Sgd(ps, 0.1f, weightDecay: -0.1f),
            "nesterov without momentum" => () => _ = new Sgd(ps, 0.1f, nesterov: true),
            "nesterov with dampening" => () => _ = new Sgd(ps, 0.1f, momentum: 0.9f, nesterov: true, dampening: 0.1f),
            "adam beta1=1" => () => _ = new Adam(ps, 0.1f, beta1: 1f),
            "adam beta2<0" => () => _ = new Adam(ps, 0.1f, beta2: -0.5f),
            "adam decay<0" => () => _ = new Adam(ps, 0.1f, weightDecay: -1f),
            _ => () => _ = new AdamW(ps, 0.1f, beta1: 1f),
        };
        var e = Assert.Throws<CondenseException>(make);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void StepLRFollowsClosedForm()
    {
        const float lr0 = 0.3f, gamma = 0.5f;
        const int stepSize = 3;
        var opt = new Sgd([new Parameter([0f], 1)], lr0);
        var schedule = new StepLR(opt, stepSize, gamma);
        for (int epoch = 0; epoch <= 10; epoch++)
        {
            double expected = lr0 * Math.Pow(gamma, epoch / stepSize);
            Assert.Equal(expected, schedule.RateAt(epoch), 6);
            Assert.Equal(epoch, schedule.Epoch);
            Assert.Equal(expected, opt.LearningRate, 6);
            schedule.Step();
        }
        Assert.Equal(lr0, opt.InitialLearningRate);
    }

    [Fact]
    public void CosineAnnealingLRFollowsClosedForm()
    {
        const float lr0 = 0.1f, minRate = 0.01f;
        const int total = 7;
        var opt = new Adam([new Parameter([0f], 1)], lr0);
        var schedule = new CosineAnnealingLR(opt, total, minRate);
        for (int epoch = 0; epoch <= total; epoch++)
        {
            double expected = minRate + (lr0 - minRate) * (1 + Math.Cos(Math.PI * epoch / total)) / 2;
            Assert.Equal(expected, schedule.RateAt(epoch), 6);
            Assert.Equal(expected, opt.LearningRate, 6);
            schedule.Step();
        }
        Assert.Equal(minRate, schedule.RateAt(total), 6);
        Assert.Equal(lr0, schedule.RateAt(0), 6);
    }
}

public class ParallelStepTests
{
    [Theory]
    [InlineData("sgd")]
    [InlineData("adamw")]
    public void SlicedUpdateOfALargeTensorIsBitIdenticalToOneThread(string kind)
    {
        // 100,003 elements: above the parallel threshold and not a multiple of the slice alignment.
        float[] Run(int threads)
        {
            int? previous = Condense.Kernels.Platform.Cpu.ThreadsOnThisThread;
            Condense.Kernels.Platform.Cpu.ThreadsOnThisThread = threads;
            try
            {
                var p = new Condense.Nn.Parameter(Condense.Tensors.Tensor.Uniform(new Condense.Tensors.Rng(1), -1f, 1f, 100_003));
                Condense.Optim.Optimizer opt = kind == "sgd"
                    ? new Condense.Optim.Sgd([p], 0.1f, momentum: 0.9f, weightDecay: 1e-3f, nesterov: true)
                    : new Condense.Optim.AdamW([p], 1e-3f);
                for (int step = 0; step < 3; step++)
                {
                    p.Grad = Condense.Tensors.Tensor.Uniform(new Condense.Tensors.Rng((ulong)step + 7), -1f, 1f, 100_003);
                    opt.Step();
                }
                return p.Data;
            }
            finally { Condense.Kernels.Platform.Cpu.ThreadsOnThisThread = previous; }
        }
        var one = Run(1);
        var two = Run(2);
        Assert.Equal(one, two);
        Assert.Equal(one, Run(3));
    }
}
