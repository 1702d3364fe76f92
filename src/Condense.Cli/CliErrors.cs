// One place that turns exceptions into what the user sees: a single line on stderr and exit code 1
// for bad input (files, arguments, models); a short line with the exception type for our own bugs. In a run of several
// ranks the line is printed by rank 0 alone (Ranks).
using Spectre.Console.Cli;

namespace Condense.Cli;

internal static class CliErrors
{
    /// <summary>Prints the error (on rank 0 of a distributed run, which then ends the run) and returns the exit code.</summary>
    public static int Report(Exception exception) => Ranks.Fail(exception, Print);

    /// <summary>The one-line message of <paramref name="exception"/>.</summary>
    public static string Message(Exception exception) => OneLine(exception switch
    {
        CondenseException e => e.Message,
        CommandParseException or CommandRuntimeException => exception.Message,
        FileNotFoundException e => $"file not found: {e.FileName ?? e.Message}",
        DirectoryNotFoundException or UnauthorizedAccessException or IOException => exception.Message,
        _ => $"internal error ({exception.GetType().Name}): {exception.Message}",
    });

    /// <summary>Prints the error as one line on stderr; returns 1 for bad input, 2 for our own bugs.</summary>
    public static int Print(Exception exception)
    {
        Console.Error.WriteLine("error: " + Message(exception));
        bool badInput = exception is CondenseException or CommandParseException or CommandRuntimeException
            or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException;
        return badInput ? 1 : 2;
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
