// Hint distillation (Romero et al. 2015, "FitNets"): besides the soft targets, a student hidden layer,
// passed through a learned linear regressor, is pulled towards a teacher hidden layer by an MSE term.
// Both models are graphs, so a layer is named by its graph value (e.g. "/2/Relu_output_0"); the
// regressor trains with the student and is dropped afterwards.
using Condense.Autograd;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Distillation;

/// <summary>Which hidden values to match, and the weight of the hint term.</summary>
public sealed record HintOptions(string StudentValue, string TeacherValue, float Weight = 1f);

/// <summary>
/// The student during hint training: runs the student graph, keeps its hidden value, and owns the
/// regressor from the student's hidden width to the teacher's.
/// </summary>
internal sealed class HintedStudent : Module
{
    private readonly GraphModule _student;
    private readonly string _hidden;

    public HintedStudent(GraphModule student, GraphModule teacher, HintOptions hint, int[] sampleShape, ulong seed)
    {
        _student = RegisterModule("student", student);
        _hidden = hint.StudentValue;
        int studentWidth = Width(student, hint.StudentValue, sampleShape, "student");
        int teacherWidth = Width(teacher, hint.TeacherValue, sampleShape, "teacher");
        Regressor = RegisterModule("regressor", new Linear(studentWidth, teacherWidth, rng: new Rng(seed)));
    }

    /// <summary>Maps the student's hidden value to the teacher's width.</summary>
    public Linear Regressor { get; }

    /// <summary>The student's hidden value from the last forward pass (part of its autograd graph).</summary>
    public Tensor? Hidden { get; private set; }

    public override Tensor Forward(Tensor input)
    {
        var values = _student.Run(input);
        Hidden = values[_hidden];
        return values[_student.Graph.Outputs[0].Name];
    }

    // The per-sample width of a named hidden value, found by running one zero sample.
    private static int Width(GraphModule model, string value, int[] sampleShape, string role)
    {
        using var _ = GradMode.NoGrad();
        bool training = model.Training;
        model.Eval();
        try
        {
            var values = model.Run(Tensor.Zeros([1, .. sampleShape]));
            if (!values.TryGetValue(value, out var t))
            {
                var examples = values.Keys.Where(k => k.Contains(OpTypes.Relu) || k.Contains(OpTypes.Gemm)).Take(6);
                throw new CondenseException($"the {role} has no value named '{value}'; its values include {string.Join(", ", examples)}");
            }
            return t.Size;
        }
        finally { model.Train(training); }
    }
}
