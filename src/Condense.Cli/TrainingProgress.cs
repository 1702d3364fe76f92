// Shows training progress: a live bar (epoch, batch, ETA, running loss and accuracy) on a terminal,
// or one line per epoch when output is redirected (CI logs); a pipeline of several runs (the demo) names
// the model each line is about.
using Condense.Training;
using Spectre.Console;

namespace Condense.Cli;

internal static class TrainingProgress
{
    /// <summary>Runs <paramref name="train"/> while showing its training progress on <paramref name="output"/>.</summary>
    public static T Run<T>(Output output, string title, Func<IProgress<TrainProgress>, T> train)
    {
        if (!output.Interactive)
        {
            (string? Task, int Epoch) last = (null, 0);
            var lines = new SyncProgress<TrainProgress>(p =>
            {
                // One line per epoch, and a new run (the demo's next model) starts its own epochs.
                if (p.Batch != p.Batches || (p.Task, p.Epoch) == last) return;
                last = (p.Task, p.Epoch);
                output.Console.WriteLine($"{p.Task ?? title}: epoch {p.Epoch}/{p.Epochs}  loss {p.RunningLoss:F4}  train acc {p.RunningAccuracy:P2}");
            });
            return train(lines);
        }
        T report = default!;
        output.Console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(title);
                var bar = new SyncProgress<TrainProgress>(p =>
                {
                    task.MaxValue = (double)p.Epochs * p.Batches;
                    task.Value = (double)(p.Epoch - 1) * p.Batches + p.Batch;
                    string state = $"epoch {p.Epoch}/{p.Epochs} batch {p.Batch}/{p.Batches} loss {p.RunningLoss:F4} acc {p.RunningAccuracy:P1}";
                    task.Description = Markup.Escape($"{p.Task ?? title} {state}");
                });
                report = train(bar);
                task.Value = task.MaxValue;
            });
        return report;
    }

}

/// <summary>An IProgress that reports synchronously on the working thread (Progress&lt;T&gt; would post to the thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
