// The one exception type for bad input (files, arguments, models). Its message is a single line that
// names what was wrong, so the CLI can print it as is, without a stack trace.
namespace Condense;

/// <summary>An error caused by input the user can fix: a corrupt file, a bad argument, an unsupported model.</summary>
public class CondenseException : Exception
{
    /// <summary>Creates the error with a one-line message.</summary>
    public CondenseException(string message) : base(message) { }

    /// <summary>Creates the error with a one-line message and the underlying cause.</summary>
    public CondenseException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A file that cannot be read as the format it claims: names the file and the fault.</summary>
public sealed class InvalidFileException : CondenseException
{
    /// <summary>Creates the error for <paramref name="path"/> with a short description of the fault.</summary>
    /// <remarks>
    /// Line breaks in <paramref name="fault"/> become spaces: faults often quote names and text from the file
    /// itself, and the message must stay one line whatever the file holds.
    /// </remarks>
    public InvalidFileException(string path, string fault)
        : base($"{Path.GetFileName(path).ReplaceLineEndings(" ")}: {fault.ReplaceLineEndings(" ")}")
    {
        FilePath = path;
        Fault = fault.ReplaceLineEndings(" ");
    }

    /// <summary>The file that could not be read.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it.</summary>
    public string Fault { get; }
}
