// Evaluation: accuracy and mean cross-entropy over a data set in evaluation mode, and timing of
// inference (latency at batch 1, throughput at large batches) measured on the real model.
using System.Diagnostics;
using Condense.Autograd;
using Condense.Data;
using Condense.Distributed;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Training;

/// <summary>Accuracy (0–1) and mean cross-entropy loss of a model on a data set.</summary>
public sealed record EvalResult(float Accuracy, float Loss, int Correct, int Count);

/// <summary>Inference speed: median latency of one batch and samples per second.</summary>
public sealed record SpeedResult(int BatchSize, double MedianMilliseconds, double SamplesPerSecond);

/// <summary>Counts correct predictions.</summary>
public static class Metrics
{
    /// <summary>The number of rows of <paramref name="logits"/> whose arg-max equals the label.</summary>
    public static int CountCorrect(Tensor logits, ReadOnlySpan<int> labels)
    {
        int classes = logits.Shape[^1], correct = 0;
        for (int i = 0; i < labels.Length; i++)
            if (System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits.Data.AsSpan(i * classes, classes)) == labels[i]) correct++;
        return correct;
    }
}

/// <summary>Evaluates and times models.</summary>
public static class Evaluator
{
    /// <summary>Accuracy and loss on <paramref name="data"/> (which must be labelled).</summary>
    public static EvalResult Evaluate(Module model, Dataset data, int batchSize = 500)
    {
        if (data.Labels is null) throw new CondenseException($"{data.Name} has no labels to evaluate against");
        bool training = model.Training;
        model.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            // Under mpirun the batches are handed out round-robin; each batch's loss sits in its own slot, summed in order
            // after the all-reduce, so every rank gets one process's figures exactly.
            var world = World.Current;
            var loader = new DataLoader(data, batchSize, shuffle: false, seed: 0);
            var perBatch = new double[loader.BatchCount + 1];
            int index = -1;
            foreach (var batch in loader.Epoch(0))
            {
                if (!world.Owns(++index)) continue;
                var logits = model.Forward(batch.Features);
                if (logits.Rank != 2 || logits.Shape[0] != batch.Count)
                    throw new CondenseException(
                        $"the model returns shape {Shape.Format(logits.Shape)} for a batch of {batch.Count}; a classifier returns (N, classes)");
                if (data.NumClasses > logits.Shape[1])
                    throw new CondenseException($"{data.Name} has {data.NumClasses} classes but the model predicts {logits.Shape[1]}");
                perBatch[^1] += Metrics.CountCorrect(logits, batch.Labels);
                perBatch[index] = Tensor.CrossEntropy(logits, batch.Labels).Item() * batch.Count;
            }
            world.AllReduce(perBatch);
            int correct = (int)perBatch[^1];
            double loss = 0;
            for (int b = 0; b < loader.BatchCount; b++) loss += perBatch[b];
            return new EvalResult((float)correct / data.Count, (float)(loss / data.Count), correct, data.Count);
        }
        finally { model.Train(training); }
    }

    /// <summary>Times inference on random inputs of <paramref name="sampleShape"/>: median over repeats lasting ≥ <paramref name="minSeconds"/>.</summary>
    public static SpeedResult MeasureSpeed(Module model, int[] sampleShape, int batchSize, double minSeconds = 0.5)
    {
        bool training = model.Training;
        model.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            var input = Tensor.Uniform(new Rng(1), 0f, 1f, [batchSize, .. sampleShape]);
            for (int i = 0; i < 3; i++) model.Forward(input);
            var times = new List<double>();
            var total = Stopwatch.StartNew();
            while (total.Elapsed.TotalSeconds < minSeconds || times.Count < 5)
            {
                long start = Stopwatch.GetTimestamp();
                model.Forward(input);
                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            times.Sort();
            double median = times[times.Count / 2];
            return new SpeedResult(batchSize, median, batchSize / (median / 1000.0));
        }
        finally { model.Train(training); }
    }
}
