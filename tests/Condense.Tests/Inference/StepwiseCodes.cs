// The step-by-step check of the integer conv engine against the float simulation of its QDQ graph: each step is fed the
// simulation's codes (IntegerConvModel.ForwardStepwise), so rounding cannot accumulate, and every code it writes must be
// within one quantization step of the simulation's, 99 % of them equal (ties of round-half-even against the float's own
// rounding move a few).
using Condense.Inference;
using Condense.Tensors;
using Xunit.Abstractions;

namespace Condense.Tests.Inference;

internal static class StepwiseCodes
{
    /// <summary>Asserts the engine's codes against <paramref name="simulation"/> (the QDQ graph's values for <paramref name="x"/>).</summary>
    public static void AssertWithinOneStep(IntegerConvModel engine, Tensor x, IReadOnlyDictionary<string, Tensor> simulation, ITestOutputHelper output)
    {
        long exact = 0, total = 0;
        foreach (var (value, codes) in engine.ForwardStepwise(x, simulation))
        {
            var expected = simulation[value].Data;
            Assert.Equal(expected.Length, codes.Length);
            for (int i = 0; i < codes.Length; i++)
            {
                int diff = Math.Abs(codes[i] - (int)expected[i]);
                Assert.True(diff <= 1, $"{value}[{i}]: engine {codes[i]}, simulation {expected[i]}");
                exact += diff == 0 ? 1 : 0;
            }
            total += codes.Length;
        }
        output.WriteLine($"step by step: {exact} of {total} codes equal the simulation's, the others one step away");
        Assert.True(exact >= 0.99 * total, $"only {exact} of {total} codes equal");
    }
}
