// Feature distillation of image models without labels: the loss of one step against a hand computation (cosine and
// MSE), an augmentation that reaches both the teacher and the student, the same weights for the same seed, and a
// resnet-mini teacher with 30 % of its filters removed whose student gets closer to it on held-out images.
using Condense.Data;
using Condense.Distillation;
using Condense.Graph;
using Condense.Inference;
using Condense.Nn;
using Condense.Reports;
using Condense.Tensors;
using Condense.Training;
using static Condense.Tests.Pruning.PruningTestModels;

namespace Condense.Tests.Distillation;

public class FeatureDistillationTests
{
    // Rows x = (1, 2, 3) and (−1, 0, 2).
    private static readonly Dataset TwoRows = new([1, 2, 3, -1, 0, 2], null, [3]);

    // teacher(x) = (x0, x1); student(x) = (x0 + x1 + 0.5, x2 − 0.5).
    private static (GraphModule Student, GraphModule Teacher) LinearPair()
    {
        var teacher = From(new Linear(3, 2), 3);
        SetData(teacher, "weight", [1, 0, 0, 0, 1, 0]);
        SetData(teacher, "bias", [0, 0]);
        var student = From(new Linear(3, 2), 3);
        SetData(student, "weight", [1, 1, 0, 0, 0, 1]);
        SetData(student, "bias", [0.5f, -0.5f]);
        return (student, teacher);
    }

    private static double FirstLoss(EmbeddingLoss loss, Func<Tensor, Rng, Tensor>? augment = null)
    {
        var (student, teacher) = LinearPair();
        var options = new FeatureDistillOptions { Epochs = 1, BatchSize = 2, Loss = loss, LearningRate = 0.1f };
        // One step of the whole data set: its loss is measured before the step changes anything.
        return FeatureDistiller.Distil(student, teacher, TwoRows, options, augment).Epochs.Single().Loss;
    }

    [Fact]
    public void TheLossOfAStepMatchesAHandComputation()
    {
        // Teacher features (1, 2) and (−1, 0); student features (3.5, 2.5) and (−0.5, 1.5).
        double cos1 = (3.5 * 1 + 2.5 * 2) / (Math.Sqrt(3.5 * 3.5 + 2.5 * 2.5) * Math.Sqrt(5));
        double cos2 = (-0.5 * -1 + 1.5 * 0) / Math.Sqrt(0.25 + 2.25);
        Assert.Equal(1 - (cos1 + cos2) / 2, FirstLoss(EmbeddingLoss.Cosine), 5);
        // Differences (2.5, 0.5) and (0.5, 1.5).
        Assert.Equal((6.25 + 0.25 + 0.25 + 2.25) / 4, FirstLoss(EmbeddingLoss.Mse), 5);
    }

    [Fact]
    public void TheAugmentationIsWhatBothModelsSee()
    {
        var seen = new List<float[]>();
        Tensor Ones(Tensor batch, Rng rng)
        {
            seen.Add(batch.Data.ToArray());
            return Tensor.Full(1f, batch.Shape);
        }
        // On rows of ones the teacher gives (1, 1) and the student (2.5, 0.5): had either seen the original rows, the
        // loss would be the one of the test above.
        Assert.Equal(1 - 3 / (Math.Sqrt(6.5) * Math.Sqrt(2)), FirstLoss(EmbeddingLoss.Cosine, Ones), 5);
        Assert.Equal((1.5 * 1.5 + 0.5 * 0.5) / 2, FirstLoss(EmbeddingLoss.Mse, Ones), 5);
        // The delegate got the images themselves, once per step.
        Assert.Equal(2, seen.Count);
        Assert.All(seen, rows => Assert.Equal(TwoRows.Features.Order(), rows.Order()));
    }

    [Fact]
    public void TheSameSeedGivesTheSameWeights()
    {
        var teacher = MiniResNet(seed: 3);
        var cut = ImageDistillPipeline.Cut(teacher, 0.3);
        var images = Images(24, seed: 4);
        Tensor Shift(Tensor batch, Rng rng) => Augment.RandomShift(batch, [3, 12, 12], 2, rng);
        Dictionary<string, float[]> Run(ulong seed) =>
            Snapshot(FeatureDistiller.Distil(cut.Model, teacher, images, new FeatureDistillOptions { Epochs = 2, BatchSize = 8, Seed = seed }, Shift).Student);
        var first = Run(5);
        var second = Run(5);
        foreach (var (name, weights) in first) AssertBitEqual(weights, second[name], name);
        Assert.Contains(Run(6), p => !p.Value.SequenceEqual(first[p.Key]));
    }

    [Fact]
    public void APrunedStudentGetsCloserToItsTeacher()
    {
        var teacher = MiniResNet(seed: 7);
        var options = new FeatureDistillOptions { Epochs = 8, BatchSize = 16, LearningRate = 3e-3f, Seed = 1 };
        Tensor Flip(Tensor batch, Rng rng) => FlipSome(batch, 12, rng);
        var (train, evaluation) = (Images(96, seed: 8), Images(32, seed: 9));
        // Filters chosen by norm leave distillation something to recover; the calibrated cut (Apply's) starts closer still.
        var (student, report) = ImageDistillPipeline.Distil(teacher, ImageDistillPipeline.Cut(teacher, 0.3), 0.3, train, evaluation, options, Flip);
        var calibrated = ImageDistillPipeline.Cut(teacher, 0.3, train).Model;
        var reference = ImageEvaluation.Outputs(teacher, evaluation, 16).Rows;
        double calibratedCosine = Fidelity.Measure(ImageEvaluation.Outputs(calibrated, evaluation, 16).Rows, reference).CosineMean;
        Assert.True(calibratedCosine > report.Before.CosineMean + 0.1, $"calibrated cut {calibratedCosine:F3}, norm cut {report.Before.CosineMean:F3}");

        Assert.True(report.After.CosineMean > report.Before.CosineMean + 0.1,
            $"cosine to the teacher {report.Before.CosineMean:F3} before, {report.After.CosineMean:F3} after");
        Assert.True(report.Epochs[^1].Loss < report.Epochs[0].Loss, string.Join(", ", report.Epochs.Select(e => e.Loss.ToString("F4"))));
        Assert.NotEmpty(report.StructuralChanges);
        Assert.True(report.PrunedParameters < report.TeacherParameters && report.Parameters <= report.PrunedParameters);
        // Batch norm comes back folded into the convolutions; the teacher is unchanged.
        Assert.DoesNotContain(student.Graph.Nodes, n => n.OpType == OpTypes.BatchNormalization);
        Assert.Contains(teacher.Graph.Nodes, n => n.OpType == OpTypes.BatchNormalization);
        var after = Fidelity.Measure(ImageEvaluation.Outputs(student, Images(32, seed: 9)).Rows, ImageEvaluation.Outputs(teacher, Images(32, seed: 9)).Rows);
        Assert.Equal(report.After.CosineMean, after.CosineMean, 6);
        string json = ReportJson.Serialize(report);
        Assert.Contains("\"before\":{\"cosine_mean\":", json);
        Assert.Contains("\"pruned_parameters\":", json);
        Assert.Contains("\"structural_changes\":[{\"layers\":", json);
    }

    [Fact]
    public void TheHiddenTermAddsTheResidualStreamsRelativeError()
    {
        // The calibrated cut keeps the residual channels whole, so every residual join has the teacher's shape.
        var teacher = MiniResNet(seed: 7);
        var images = Images(16, seed: 8);
        var student = ImageDistillPipeline.Cut(teacher, 0.6, images).Model;
        var options = new FeatureDistillOptions { Epochs = 1, BatchSize = 16, LearningRate = 1e-6f, HiddenWeight = 2f };
        double loss = FeatureDistiller.Distil(student, teacher, images, options).Epochs.Single().Loss;

        // By hand on the unfolded models (folding keeps their function): 1 − mean cosine of the outputs, plus
        // 2 / joins · Σ ‖s − t‖² / ‖t‖² over the Adds of two computed values.
        var input = new Tensor(images.Features, [16, 3, 12, 12]);
        Dictionary<string, Tensor> ours, theirs;
        using (Condense.Autograd.GradMode.NoGrad())
        {
            student.Eval();
            teacher.Eval();
            (ours, theirs) = (student.Run(input), teacher.Run(input));
        }
        var joins = teacher.Graph.Nodes.Where(n => n.OpType == OpTypes.Add && n.Inputs.All(i => !teacher.Graph.Initializers.ContainsKey(i)))
            .Select(n => n.Outputs[0]).ToList();
        Assert.True(joins.Count >= 3, $"{joins.Count} residual joins");
        string output = teacher.Graph.Outputs[0].Name;
        double expected = 1 - Fidelity.Measure(Rows(ours[output]), Rows(theirs[output])).CosineMean;
        foreach (var name in joins)
        {
            double error = 0, norm = 0;
            for (int i = 0; i < theirs[name].Size; i++)
            {
                double t = theirs[name].Data[i], d = ours[name].Data[i] - t;
                error += d * d;
                norm += t * t;
            }
            expected += 2.0 / joins.Count * error / norm;
        }
        double outputOnly = 1 - Fidelity.Measure(Rows(ours[output]), Rows(theirs[output])).CosineMean;
        Assert.True(expected - outputOnly > 0.01, $"the joins add {expected - outputOnly:E2} to {outputOnly:E2}");
        Assert.Equal(expected, loss, 4);
    }

    [Fact]
    public void MatchingTheResidualStreamBringsTheBlocksCloser()
    {
        var teacher = MiniResNet(seed: 7);
        var (train, evaluation) = (Images(64, seed: 8), Images(32, seed: 9));
        var cut = ImageDistillPipeline.Cut(teacher, 0.3, train).Model;
        double JoinError(float hiddenWeight)
        {
            var options = new FeatureDistillOptions { Epochs = 6, BatchSize = 16, LearningRate = 3e-3f, Seed = 1, HiddenWeight = hiddenWeight };
            var student = FeatureDistiller.Distil(cut, teacher, train, options).Student;
            var input = new Tensor(evaluation.Features, [32, 3, 12, 12]);
            using var _ = Condense.Autograd.GradMode.NoGrad();
            teacher.Eval();
            var (ours, theirs) = (student.Run(input), teacher.Run(input));
            var joins = student.Graph.Nodes.Where(n => n.OpType == OpTypes.Add && n.Inputs.All(i => !student.Graph.Initializers.ContainsKey(i)));
            return joins.Average(n => RelativeError(ours[n.Outputs[0]], theirs[n.Outputs[0]]));
        }
        double without = JoinError(0f), with = JoinError(1f);
        Assert.True(with < 0.8 * without, $"held-out residual stream error {with:F4} with the hidden term, {without:F4} without");
    }

    private static float[][] Rows(Tensor t) =>
        [.. Enumerable.Range(0, t.Shape[0]).Select(r => t.Data.AsSpan(r * (t.Size / t.Shape[0]), t.Size / t.Shape[0]).ToArray())];

    private static double RelativeError(Tensor ours, Tensor theirs)
    {
        double error = 0, norm = 0;
        for (int i = 0; i < theirs.Size; i++)
        {
            double d = ours.Data[i] - theirs.Data[i];
            error += d * d;
            norm += (double)theirs.Data[i] * theirs.Data[i];
        }
        return error / norm;
    }

    [Theory]
    [InlineData(0, 16, 1e-3f, 0.0, 1f)]
    [InlineData(1, 0, 1e-3f, 0.0, 1f)]
    [InlineData(1, 16, 0f, 0.0, 1f)]
    [InlineData(1, 16, 1e-3f, 1.0, 1f)]
    [InlineData(1, 16, 1e-3f, 0.0, -1f)]
    [InlineData(1, 16, 1e-3f, 0.0, 1f, -0.5f)]
    public void BadOptionsAreRefused(int epochs, int batchSize, float learningRate, double warmup, float clipNorm, float hiddenWeight = 0f)
    {
        var options = new FeatureDistillOptions
        {
            Epochs = epochs, BatchSize = batchSize, LearningRate = learningRate, WarmupFraction = warmup, ClipNorm = clipNorm, HiddenWeight = hiddenWeight,
        };
        Assert.Throws<CondenseException>(() => options.Validate());
    }

    // A resnet-mini (stem, three residual stages, pooling, Linear) on 3×12×12 images with batch statistics of its own,
    // so that folding them matters.
    private static GraphModule MiniResNet(ulong seed)
    {
        var parsed = ModelSpec.Parse("resnet-mini,width=8,input=3x12x12");
        var model = new GraphModule(GraphTracer.Trace(parsed.Build(seed), [parsed.InFeatures]));
        var rng = new Rng(seed + 100);
        foreach (var node in model.Graph.Nodes.Where(n => n.OpType == OpTypes.BatchNormalization))
            for (int input = 1; input <= 4; input++)
            {
                var data = model.Graph.Initializers[node.Inputs[input]].Data;
                for (int i = 0; i < data.Length; i++) data[i] = input is 1 or 4 ? 0.5f + rng.NextFloat() : 0.4f * (rng.NextFloat() - 0.5f);
            }
        return model;
    }

    // Smooth random images: a random 4×4 grid per channel, upsampled, plus a little noise.
    private static Dataset Images(int count, ulong seed)
    {
        var rng = new Rng(seed);
        var features = new float[count * 3 * 144];
        for (int plane = 0; plane < count * 3; plane++)
        {
            var grid = Enumerable.Range(0, 16).Select(_ => rng.NextNormal()).ToArray();
            for (int y = 0; y < 12; y++)
                for (int x = 0; x < 12; x++) features[plane * 144 + y * 12 + x] = grid[y / 3 * 4 + x / 3] + 0.1f * rng.NextNormal();
        }
        return new Dataset(features, null, [3, 12, 12], "smooth images");
    }

    // Mirrors each image left to right with probability 1/2.
    private static Tensor FlipSome(Tensor batch, int size, Rng rng)
    {
        var result = new Tensor((float[])batch.Data.Clone(), batch.Shape);
        int sample = batch.Size / batch.Shape[0];
        for (int s = 0; s < batch.Shape[0]; s++)
        {
            if (rng.NextInt(2) == 0) continue;
            for (int row = 0; row < sample / size; row++) Array.Reverse(result.Data, s * sample + row * size, size);
        }
        return result;
    }
}
