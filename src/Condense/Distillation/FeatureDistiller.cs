// Feature distillation without labels (FitNets' hint loss on the last layer, Romero et al. 2015; the "feature
// mimicking" of Wang et al. 2018): a student, typically its teacher with filters removed, learns to reproduce the
// teacher's output features, flattened per sample ([N, 512, 1, 1] pooled features of ResNet-18 become 512-vectors),
// on unlabelled images. Each step takes a seeded shuffled batch, augments it (the delegate, if any), runs the teacher
// on that same augmented batch without gradients, and fits the student's features by cosine or MSE (EmbeddingLosses)
// with AdamW, a warm-up then cosine decay, and clipping. Without augmentation the inputs never change, so the teacher's
// features are computed once and cached.
// Batch norm is folded into the convolutions of both models first (BatchNormFolding): steps of 16 images would give
// noisy batch statistics, and running statistics fitted to the teacher's data are what the student should keep; the
// folded models compute the same function in evaluation mode and run one op fewer per layer. Both run in evaluation
// mode, so a batch norm that could not be folded keeps its running statistics and dropout is off. Under mpirun each rank
// fits its share of every batch (DataParallel).
using System.Diagnostics;
using Condense.Autograd;
using Condense.Data;
using Condense.Distributed;
using Condense.Graph;
using Condense.Inference;
using Condense.Optim;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Distillation;

/// <summary>One epoch of feature distillation: the mean loss over its images, the rate of its last step, its duration.</summary>
public sealed record FeatureDistillEpoch(int Epoch, double Loss, float LastLearningRate, double Seconds);

/// <summary>Distils an image model into a student by matching output features on unlabelled images.</summary>
public static class FeatureDistiller
{
    /// <summary>
    /// Trains a batch-norm-folded copy of <paramref name="student"/> to reproduce the features (first output, flattened per
    /// sample) of <paramref name="teacher"/> on <paramref name="images"/>, each batch augmented by <paramref name="augment"/>
    /// (rows of flat features and a seeded generator in; the augmented rows out) if given. Neither argument model is changed.
    /// Returns the trained student (batch norm folded) and the loss per epoch; progress reports each step.
    /// </summary>
    public static (GraphModule Student, IReadOnlyList<FeatureDistillEpoch> Epochs) Distil(GraphModule student, GraphModule teacher, Dataset images,
        FeatureDistillOptions options, Func<Tensor, Rng, Tensor>? augment = null, IProgress<TrainProgress>? progress = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        options.Validate();
        if (images.Count == 0) throw new CondenseException("there are no images to distil on");
        var model = BatchNormFolding.Fold(student).Model;
        var reference = BatchNormFolding.Fold(teacher).Model;
        model.Eval();
        reference.Eval();
        var world = World.Current;
        DataParallel.CheckModel(reference, "teacher", world);
        DataParallel.CheckModel(model, "student", world);
        var loader = new DataLoader(images, options.BatchSize, shuffle: true, options.Seed);
        // The teacher's features of the unchanged images, when there is no augmentation to change them and no hidden term.
        var joins = options.HiddenWeight > 0 ? ResidualJoins(model, reference, images) : [];
        var cached = augment is null && joins.Count == 0 ? ImageEvaluation.Outputs(reference, images, options.BatchSize).Rows : null;
        var augmentRng = new Rng(options.Seed ^ 0xA076_1D64_78BD_642FUL);
        int totalSteps = options.Epochs * loader.BatchCount, warmup = (int)Math.Ceiling(options.WarmupFraction * totalSteps);
        var optimizer = new AdamW(model.Parameters(), options.LearningRate, weightDecay: options.WeightDecay);
        var schedule = new WarmupSchedule(optimizer, warmup, totalSteps, options.Decay);
        var epochs = new List<FeatureDistillEpoch>();
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            double lossSum = 0;
            int seen = 0, step = 0;
            foreach (var batch in loader.Epoch(epoch))
            {
                cancellation.ThrowIfCancellationRequested();
                // The whole batch is augmented on every rank (the draws of one process); each rank fits its share of it.
                var input = augment is null ? batch.Features : Augmented(augment, batch.Features, augmentRng);
                var local = DataParallel.Shard(batch with { Features = input }, world);
                Span<float> sums = [0f];
                optimizer.ZeroGrad();
                if (local.Count > 0)
                {
                    var loss = joins.Count == 0
                        ? EmbeddingLosses.Embedding(Flatten(model.Forward(local.Features)),
                            cached is null ? TeacherFeatures(reference, local.Features) : Rows(cached, local.Indices), options.Loss)
                        : WithJoins(model, reference, local.Features, joins, options);
                    loss.Backward();
                    sums[0] = loss.Item() * local.Count;
                }
                DataParallel.AllReduceGradients(optimizer.Params, (float)local.Count / batch.Count, sums, world);
                if (options.ClipNorm > 0) GradientClipping.ClipGlobalNorm(optimizer.Params, options.ClipNorm);
                optimizer.Step();
                schedule.Step();
                lossSum += sums[0];
                seen += batch.Count;
                progress?.Report(new TrainProgress(epoch + 1, options.Epochs, ++step, loader.BatchCount, (float)(lossSum / seen), 0f));
            }
            epochs.Add(new FeatureDistillEpoch(epoch + 1, lossSum / seen, optimizer.LearningRate, clock.Elapsed.TotalSeconds));
        }
        return (model, epochs);
    }

    // The output-feature loss plus the residual stream's: Σ over joins of ‖s − t‖² / ‖t‖², times HiddenWeight / joins
    // (relative, so that every stage counts alike whatever its scale; FitNets' hints, Romero et al. 2015, on every block).
    private static Tensor WithJoins(GraphModule student, GraphModule teacher, Tensor input, IReadOnlyList<string> joins, FeatureDistillOptions options)
    {
        Dictionary<string, Tensor> theirs;
        using (GradMode.NoGrad()) theirs = teacher.Run(input);
        var ours = student.Run(input);
        var loss = EmbeddingLosses.Embedding(Flatten(ours[student.Graph.Outputs[0].Name]), Flatten(theirs[teacher.Graph.Outputs[0].Name]), options.Loss);
        foreach (var name in joins)
        {
            var target = theirs[name];
            float scale = 0;
            foreach (float v in target.Data.AsSpan(0, target.Size)) scale += v * v;
            var difference = ours[name].Sub(target);
            loss = loss.Add(difference.Mul(difference).Sum().Mul(options.HiddenWeight / joins.Count / Math.Max(scale, 1e-12f)));
        }
        return loss;
    }

    // Outputs of Adds of two computed values (residual joins) that both models have with the same shape on one image.
    private static List<string> ResidualJoins(GraphModule student, GraphModule teacher, Dataset images)
    {
        var sample = new Tensor(images.Take(1).Features, [1, .. images.SampleShape]);
        Dictionary<string, Tensor> ours, theirs;
        using (GradMode.NoGrad())
        {
            ours = student.Run(sample);
            theirs = teacher.Run(sample);
        }
        var graph = student.Graph;
        return [.. graph.Nodes.Where(n => n.OpType == OpTypes.Add && n.Inputs.Count == 2 && n.Inputs.All(i => !graph.Initializers.ContainsKey(i)))
            .Select(n => n.Outputs[0])
            .Where(v => ours.TryGetValue(v, out var a) && theirs.TryGetValue(v, out var b) && a.Shape.SequenceEqual(b.Shape))];
    }

    // The output [N, …] as [N, features].
    private static Tensor Flatten(Tensor output) =>
        output.Rank == 2 ? output
            : output.Rank > 0 ? output.Reshape(output.Shape[0], -1) : throw new CondenseException("the model's first output has no batch axis");

    private static Tensor TeacherFeatures(GraphModule teacher, Tensor input)
    {
        using (GradMode.NoGrad()) return Flatten(teacher.Forward(input));
    }

    private static Tensor Rows(float[][] rows, int[] indices)
    {
        int width = rows[0].Length;
        var data = new float[indices.Length * width];
        for (int i = 0; i < indices.Length; i++) rows[indices[i]].CopyTo(data, i * width);
        return new Tensor(data, indices.Length, width);
    }

    private static Tensor Augmented(Func<Tensor, Rng, Tensor> augment, Tensor batch, Rng rng)
    {
        var result = augment(batch, rng);
        if (result.Rank == 0 || result.Shape[0] != batch.Shape[0])
            throw new CondenseException($"the augmentation turned {batch.Shape[0]} images into {Shape.Format(result.Shape)}: it must keep one row per image");
        return result;
    }
}
