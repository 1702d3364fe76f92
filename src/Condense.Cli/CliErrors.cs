// One place that turns exceptions into what the user sees: a single line on stderr and exit code 1
// for bad input (files, arguments, models); a short line with the exception type for our own bugs.
using Spectre.Console.Cli;

namespace Condense.Cli;

internal static class CliErrors
{
    public static int Report(Exception exception)
    {
        string message = exception switch
        {
            CondenseException e => e.Message,
            CommandParseException or CommandRuntimeException => exception.Message,
            FileNotFoundException e => $"file not found: {e.FileName ?? e.Message}",
            DirectoryNotFoundException or UnauthorizedAccessException or IOException => exception.Message,
            _ => $"internal error ({exception.GetType().Name}): {exception.Message}",
        };
        Console.Error.WriteLine("error: " + OneLine(message));
        bool badInput = exception is CondenseException or CommandParseException or CommandRuntimeException
            or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException;
        return badInput ? 1 : 2;
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
