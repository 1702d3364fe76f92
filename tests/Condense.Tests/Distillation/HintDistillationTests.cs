// Hint distillation (FitNets): the student's hidden layer, through a learned regressor, moves towards
// the teacher's; a wrong value name is a one-line error.
using Condense.Autograd;
using Condense.Data;
using Condense.Distillation;
using Condense.Graph;
using Condense.Nn;
using Condense.Training;

namespace Condense.Tests.Distillation;

public class HintDistillationTests
{
    private static GraphModule Graph(string spec, ulong seed) =>
        new(GraphTracer.Trace(ModelSpec.Parse(spec).Build(seed), [1, 28, 28]));

    [Fact]
    public void TheHintTermTrainsTheStudentsHiddenLayerAndTheStudentStillClassifies()
    {
        var (train, test) = Mnist.LoadEmbedded();
        var data = train.Take(800);
        var teacher = Graph("mlp:784-64-10", 1);
        Trainer.Fit(teacher, data, null, new TrainOptions { Epochs = 2, Seed = 1 });
        var student = Graph("mlp:784-16-10", 2);
        var options = new DistillOptions
        {
            Hint = new HintOptions("/2/Relu_output_0", "/2/Relu_output_0", Weight: 1f),
            Train = new DistillOptions().Train with { Epochs = 3 },
        };
        Distiller.Distill(student, teacher, data, null, options);
        Assert.False(student.Training);
        float accuracy = Evaluator.Evaluate(student, test.Take(500)).Accuracy;
        Assert.True(accuracy > 0.6f, $"accuracy {accuracy:P2}"); // 3 short epochs with the hint term weighted 1: it learns (10% is chance)
        // The student's own graph is unchanged: no regressor left behind.
        Assert.Equal(4, student.NamedParameters().Count());
    }

    [Fact]
    public void AnUnknownValueIsAOneLineError()
    {
        var (train, _) = Mnist.LoadEmbedded();
        var teacher = Graph("mlp:784-32-10", 1);
        var student = Graph("mlp:784-16-10", 2);
        var options = new DistillOptions { Hint = new HintOptions("/9/Relu_output_0", "/2/Relu_output_0") };
        var e = Assert.Throws<CondenseException>(() => Distiller.Distill(student, teacher, train.Take(100), null, options));
        Assert.Contains("/9/Relu_output_0", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var sequential = ModelSpec.Parse("mlp:784-16-10").Build(3);
        Assert.Throws<CondenseException>(
            () => Distiller.Distill(sequential, teacher, train.Take(100), null, options with { Hint = new HintOptions("a", "b") }));
    }
}
