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

    /// <summary>
    /// Runs <paramref name="work"/>, which may first report measurements done out of a total (under <paramref name="firstTitle"/>),
    /// then counts up to <paramref name="total"/> (under <paramref name="title"/>). Redirected output gets a line per tenth of the
    /// first phase, which can be long.
    /// </summary>
    public static T Run<T>(Output output, string firstTitle, string title, int total, Func<IProgress<(int Done, int Total)>, IProgress<int>, T> work)
    {
        if (!output.Interactive)
        {
            int lastTenth = 0;
            var lines = new SyncProgress<(int Done, int Total)>(p =>
            {
                int tenth = p.Total == 0 ? 0 : 10 * p.Done / p.Total;
                if (tenth <= lastTenth) return;
                lastTenth = tenth;
                output.Console.WriteLine($"{firstTitle}: {p.Done}/{p.Total}");
            });
            return work(lines, new SyncProgress<int>(_ => { }));
        }
        T result = default!;
        output.Console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                ProgressTask? first = null, second = null;
                var firstProgress = new SyncProgress<(int Done, int Total)>(p =>
                {
                    first ??= ctx.AddTask(Markup.Escape(firstTitle), maxValue: Math.Max(p.Total, 1));
                    first.Value = p.Done;
                });
                var secondProgress = new SyncProgress<int>(done =>
                {
                    second ??= ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(total, 1));
                    second.Value = done;
                });
                result = work(firstProgress, secondProgress);
                if (first is not null) first.Value = first.MaxValue;
                if (second is not null) second.Value = second.MaxValue;
            });
        return result;
    }
}
