// How options of one command relate, declared on the settings property they constrain and checked by
// StrictCommandLine before anything runs: an option the chosen mode would silently ignore, or two options
// that contradict each other, is a one-line error naming both.
namespace Condense.Cli.CommandLine;

/// <summary>
/// The option only means something when <see cref="Option"/> is given (a flag: set); with <see cref="Values"/>,
/// when that option's value — given or default — is one of them.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true)]
internal sealed class RequiresAttribute(string option, params string[] values) : Attribute
{
    /// <summary>The other option, as typed (e.g. "--structured"); "--text|--images" is met by any one of them.</summary>
    public string Option { get; } = option;

    /// <summary>The values of <see cref="Option"/> under which this option applies; empty: any value.</summary>
    public IReadOnlyList<string> Values { get; } = values;
}

/// <summary>
/// The option contradicts <see cref="Option"/> when both are given (with <see cref="Values"/>: when that option
/// is given one of them).
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = true)]
internal sealed class ConflictsWithAttribute(string option, params string[] values) : Attribute
{
    /// <summary>The other option, as typed (e.g. "--sparsity").</summary>
    public string Option { get; } = option;

    /// <summary>The values of <see cref="Option"/> that conflict; empty: any value.</summary>
    public IReadOnlyList<string> Values { get; } = values;
}
