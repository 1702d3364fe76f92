// A progress bar over a known count of items (passages embedded, …) on a terminal; nothing when output is
// redirected, where the command's own lines say what happened.
using Spectre.Console;

namespace Condense.Cli;

internal static class CountProgress
{
    /// <summary>Runs <paramref name="work"/>, which reports the count done out of <paramref name="total"/>.</summary>
    public static T Run<T>(Output output, string title, int total, Func<IProgress<int>, T> work)
    {
        if (!output.Interactive) return work(new SyncProgress<int>(_ => { }));
        T result = default!;
        output.Console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(total, 1));
                result = work(new SyncProgress<int>(done => task.Value = done));
                task.Value = task.MaxValue;
            });
        return result;
    }
}
