// Which teacher layer each student layer learns from in the hidden-state and attention terms. A student made from
// the teacher (layers kept, heads or neurons removed) keeps the teacher's value names, so a student layer maps to the
// teacher layer whose output has the same name; otherwise student layer i of m maps to teacher layer ⌈(i+1)·n/m⌉ − 1
// of n (TinyBERT's uniform strategy, Jiao et al. 2019 §3.3: the last student layer learns from the last teacher layer).
using Condense.Graph;

namespace Condense.Distillation;

/// <summary>A student layer and the teacher layer it learns from, by value names.</summary>
/// <param name="StudentOutput">The student layer's output (hidden state).</param>
/// <param name="TeacherOutput">The teacher layer's output.</param>
/// <param name="StudentScores">The student's attention scores (its Softmax's input).</param>
/// <param name="TeacherProbabilities">The teacher's attention probabilities (its Softmax's output).</param>
public sealed record LayerPair(string StudentOutput, string TeacherOutput, string StudentScores, string TeacherProbabilities);

/// <summary>Maps student layers to teacher layers.</summary>
public static class LayerMapping
{
    /// <summary>One pair per student layer.</summary>
    public static IReadOnlyList<LayerPair> Between(GraphModule student, GraphModule teacher)
    {
        var ours = EncoderLayers.Find(student);
        var theirs = EncoderLayers.Find(teacher);
        if (ours.Count == 0 || theirs.Count == 0)
            throw new CondenseException("hidden-state and attention distillation need transformer layers in both the student and the teacher");
        var byOutput = theirs.ToDictionary(l => l.Output);
        var pairs = new List<LayerPair>();
        for (int i = 0; i < ours.Count; i++)
        {
            var teacherLayer = byOutput.TryGetValue(ours[i].Output, out var same) ? same
                : theirs[(int)Math.Ceiling((i + 1.0) * theirs.Count / ours.Count) - 1];
            pairs.Add(new LayerPair(ours[i].Output, teacherLayer.Output, ours[i].Softmax.Inputs[0], teacherLayer.Softmax.Outputs[0]));
        }
        return pairs;
    }
}
