// The defaults of fine-tuning and distillation belong to the library (docs/architecture.md); the CLI only repeats some
// of them as text in its help, where a constant string is needed. These tests hold each such text to the library's value.
using System.Globalization;
using System.Reflection;
using Condense.Distillation;

namespace Condense.Tests.Cli;

public sealed class CliDefaultsTests
{
    private static string HelpText(string command) =>
        (string)Assembly.Load("Condense.Cli").GetType($"Condense.Cli.Commands.{command}", throwOnError: true)!
            .GetField("DefaultLearningRateText", BindingFlags.Public | BindingFlags.Static)!.GetRawConstantValue()!;

    [Fact]
    public void HelpTextsSayTheLibrarysLearningRates()
    {
        Assert.Equal(TextPruneFinetune.DefaultLearningRate, float.Parse(HelpText("PruneText"), CultureInfo.InvariantCulture));
        Assert.Equal(new TextDistillOptions().LearningRate, float.Parse(HelpText("DistillText"), CultureInfo.InvariantCulture));
        Assert.Equal(new FeatureDistillOptions().LearningRate, float.Parse(HelpText("DistillImages"), CultureInfo.InvariantCulture));
    }
}
