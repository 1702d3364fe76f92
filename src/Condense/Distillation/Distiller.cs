// Knowledge distillation (Hinton et al. 2015, "Distilling the Knowledge in a Neural Network"): the
// student learns from the teacher's softened predictions and, with weight 1 − α, from the labels:
//   loss = α · T² · KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α) · CE(s, y).
// The teacher's logits on the transfer set are computed once and cached, unless augmentation changes
// the inputs every epoch, in which case the teacher runs on each augmented batch. With α = 1 no label
// is needed, so the transfer set may be unlabelled. Distillation is a loss and a training step; the
// loop is Trainer's.
using Condense.Autograd;
using Condense.Data;
using Condense.Distributed;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Distillation;

/// <summary>Options of a distillation run.</summary>
public sealed record DistillOptions
{
    /// <summary>Softmax temperature T.</summary>
    public float Temperature { get; init; } = 4f;
    /// <summary>Weight α of the soft-target term (1 − α goes to the labels).</summary>
    public float Alpha { get; init; } = 0.9f;
    /// <summary>The training recipe of the student.</summary>
    public TrainOptions Train { get; init; } = new()
    {
        Epochs = 20, LearningRate = 0.05f, AugmentShift = 0, WeightDecay = 0f, Nesterov = false, Schedule = ScheduleKind.Constant,
    };

    /// <summary>
    /// The default learning rate of a student built from <paramref name="student"/>, or (null) made from
    /// <paramref name="teacher"/> itself: 0.05, or 0.02 for a convolutional student, which diverged at 0.05 with
    /// the T²-scaled soft loss and a constant rate (LeNet-5 from a LeNet-5 teacher, T = 4: 9.5% after 3 epochs;
    /// 97.0% at 0.02, against 94.9% from the labels alone; LeNet-5 with half its neurons removed, 3 epochs:
    /// 9.75% at 0.05, 97.30% at 0.02).
    /// </summary>
    public static float DefaultLearningRate(ModelSpec? student, GraphModule? teacher = null)
    {
        bool convolutional = student is not null ? student.Kind != ModelKind.Mlp : teacher?.Graph.Nodes.Any(n => n.OpType == OpTypes.Conv) == true;
        return convolutional ? 0.02f : 0.05f;
    }

    /// <summary>Optional FitNets hint term: a student and a teacher hidden value (both models must be graphs).</summary>
    public HintOptions? Hint { get; init; }

    /// <summary>Throws a one-line error for out-of-range options.</summary>
    public DistillOptions Validate()
    {
        if (!(Temperature > 0f)) throw new CondenseException($"temperature must be positive, got {Temperature}");
        if (!(Alpha >= 0f && Alpha <= 1f)) throw new CondenseException($"alpha must be in [0, 1], got {Alpha}");
        Train.Validate();
        return this;
    }
}

/// <summary>Distils a teacher into a student.</summary>
public static class Distiller
{
    /// <summary>The distillation loss for one batch (see the file header); <paramref name="labels"/> may be empty when α = 1.</summary>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, ReadOnlySpan<int> labels, float temperature, float alpha)
    {
        var soft = Losses.KlDivergence(studentLogits, teacherLogits, temperature);
        if (alpha >= 1f) return soft;
        if (labels.Length != studentLogits.Shape[0]) throw new CondenseException("distillation with α < 1 needs labels for every sample");
        var hard = Losses.CrossEntropy(studentLogits, labels);
        return alpha <= 0f ? hard : soft.Mul(alpha) + hard.Mul(1f - alpha);
    }

    /// <summary>The teacher's logits for every sample of <paramref name="data"/> (N × classes), computed once in evaluation mode.</summary>
    public static Tensor TeacherLogits(Module teacher, Dataset data, int batchSize = 500)
    {
        bool training = teacher.Training;
        teacher.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            // Under mpirun each rank runs its round-robin share of the same batches and the rows are summed into place
            // (every other rank holds zeros there), so each rank gets one process's logits bit for bit.
            var world = World.Current;
            float[]? all = null;
            int classes = 0, index = -1;
            foreach (var batch in new DataLoader(data, batchSize, shuffle: false, seed: 0).Epoch(0))
            {
                if (!world.Owns(++index)) continue;
                var logits = teacher.Forward(batch.Features);
                classes = logits.Shape[^1];
                all ??= new float[data.Count * classes];
                logits.Data.CopyTo(all, batch.Indices[0] * classes);
            }
            (var table, classes) = world.SumRows(all, data.Count, classes);
            return new Tensor(table, data.Count, classes);
        }
        finally { teacher.Train(training); }
    }

    /// <summary>
    /// Trains <paramref name="student"/> on <paramref name="transfer"/> from <paramref name="teacher"/>'s soft targets
    /// (and the labels, with weight 1 − α). Evaluates on <paramref name="validation"/> after each epoch if given.
    /// </summary>
    public static TrainReport Distill(Module student, Module teacher, Dataset transfer, Dataset? validation, DistillOptions options,
        IProgress<TrainProgress>? progress = null)
    {
        options.Validate();
        if (options.Alpha < 1f && transfer.Labels is null)
            throw new CondenseException($"{transfer.Name} has no labels: use alpha = 1 to distil from the teacher alone");
        DataParallel.CheckModel(teacher, "teacher", World.Current);
        bool augmented = options.Train.AugmentShift > 0;
        var cached = augmented ? null : TeacherLogits(teacher, transfer);
        teacher.Eval();
        Tensor TeacherFor(Batch batch)
        {
            if (cached is null)
            {
                using var _ = GradMode.NoGrad();
                return teacher.Forward(batch.Features).Detach();
            }
            int classes = cached.Shape[1];
            var rows = new float[batch.Count * classes];
            for (int i = 0; i < batch.Count; i++)
                cached.Data.AsSpan(batch.Indices[i] * classes, classes).CopyTo(rows.AsSpan(i * classes, classes));
            return new Tensor(rows, batch.Count, classes);
        }
        if (options.Hint is { } hint)
        {
            if (student is not GraphModule studentGraph || teacher is not GraphModule teacherGraph)
                throw new CondenseException("hint distillation names hidden values of graphs: load or trace both models as graphs");
            var hinted = new HintedStudent(studentGraph, teacherGraph, hint, transfer.SampleShape, options.Train.Seed);
            var hintHooks = new TrainHooks
            {
                Loss = (logits, batch) =>
                {
                    Tensor target;
                    using (GradMode.NoGrad()) target = teacherGraph.Run(batch.Features)[hint.TeacherValue].Detach();
                    var hidden = hinted.Hidden!.Reshape(batch.Count, -1);
                    var fit = Losses.Mse(hinted.Regressor.Forward(hidden), target.Reshape(batch.Count, -1));
                    return Loss(logits, TeacherFor(batch), batch.Labels, options.Temperature, options.Alpha) + fit.Mul(hint.Weight);
                },
            };
            var report = Trainer.Fit(hinted, transfer, validation, options.Train, progress, hintHooks);
            student.Eval();
            return report;
        }
        var hooks = new TrainHooks
        {
            Loss = (logits, batch) => Loss(logits, TeacherFor(batch), batch.Labels, options.Temperature, options.Alpha),
        };
        return Trainer.Fit(student, transfer, validation, options.Train, progress, hooks);
    }
}
