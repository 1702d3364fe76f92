// The command line read strictly before Spectre binds it. Spectre's relaxed parsing let a misspelled option
// through unnoticed (`prune --sparsty 0.9` pruned at the default 0.5 and overwrote the previous result);
// here an unknown command or option (with a did-you-mean), an extra argument, a value that does not parse,
// an option given twice, or options the command's rules say contradict each other is a one-line error.
using Spectre.Console.Cli;

namespace Condense.Cli.CommandLine;

/// <summary>Registers commands with Spectre and checks each command line against their settings before running it.</summary>
internal sealed class StrictCommandLine
{
    private readonly Dictionary<string, CommandOptions> _commands = new(StringComparer.Ordinal);

    /// <summary>Adds <typeparamref name="TCommand"/> under <paramref name="name"/>, to Spectre and to the strict check.</summary>
    public ICommandConfigurator Add<TCommand>(IConfigurator config, string name) where TCommand : class, ICommand
    {
        _commands[name] = CommandOptions.Of(name, CommandOptions.SettingsTypeOf(typeof(TCommand)));
        return config.AddCommand<TCommand>(name);
    }

    /// <summary>Runs <paramref name="args"/>: the help and exit code 1 for none, a one-line error for a bad command line.</summary>
    public int Run(CommandApp app, string[] args)
    {
        if (args.Length == 0)
        {
            app.Run(["--help"]);
            return 1;
        }
        IReadOnlyList<string> checkedArgs;
        try { checkedArgs = Check(args); }
        catch (CondenseException e) { return CliErrors.Report(e); }
        return app.Run(checkedArgs);
    }

    /// <summary>
    /// Throws a one-line <see cref="CondenseException"/> for the first problem in <paramref name="args"/>; returns the
    /// arguments for Spectre (a command's help alone when it is asked for, whatever else was typed).
    /// </summary>
    public IReadOnlyList<string> Check(IReadOnlyList<string> args)
    {
        string first = args[0];
        if (IsHelp(first) || first is "-v" or "--version") return args;
        string commands = OptionValues.OrList([.. _commands.Keys]);
        if (IsOption(first)) throw new CondenseException($"expected a command before '{first}': {commands}");
        if (!_commands.TryGetValue(first, out var command))
            throw new CondenseException(Suggestions.Closest(first, _commands.Keys) is { } near
                ? $"unknown command '{first}'; did you mean '{near}'?"
                : $"unknown command '{first}'; the commands are {commands}");
        if (args.Skip(1).Any(IsHelp)) return [first, "--help"];
        var given = ReadOptions(command, args);
        foreach (var option in given.Keys) CheckRules(command, option, given);
        return args;
    }

    // Walks the arguments after the command: each option known and its value valid, the positionals counted.
    private static Dictionary<OptionInfo, string> ReadOptions(CommandOptions command, IReadOnlyList<string> args)
    {
        var given = new Dictionary<OptionInfo, string>();
        int positional = 0;
        for (int i = 1; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg == "--") throw new CondenseException($"unexpected '--': {command.Name} takes no arguments to pass on");
            if (!IsOption(arg))
            {
                if (positional == command.Arguments.Count)
                    throw new CondenseException($"unexpected argument '{arg}'" + (command.Arguments.Count == 0
                        ? $": {command.Name} takes options only"
                        : $": {command.Name} takes one {string.Join(" ", command.Arguments)}"));
                positional++;
                continue;
            }
            int separator = arg.IndexOfAny(['=', ':']);
            string form = separator < 0 ? arg : arg[..separator];
            string? value = separator < 0 ? null : arg[(separator + 1)..];
            var option = command.Find(form) ?? throw UnknownOption(command, form);
            if (option.TakesValue)
            {
                if (value is null)
                {
                    if (i + 1 == args.Count || IsOption(args[i + 1]))
                        throw new CondenseException($"{option.Name} expects {OptionValues.Expected(option.ValueType)}, got nothing");
                    value = args[++i];
                }
                if (!OptionValues.IsValid(option.ValueType, value))
                    throw new CondenseException($"{option.Name} expects {OptionValues.Expected(option.ValueType)}, got '{value}'");
            }
            else
            {
                // A flag may be written --flag, --flag=true or --flag false, as Spectre accepts.
                if (value is null && i + 1 < args.Count && bool.TryParse(args[i + 1], out _)) value = args[++i];
                value ??= "true";
                if (!bool.TryParse(value, out _)) throw new CondenseException($"{option.Name} is a switch and takes no value, got '{value}'");
            }
            if (given.ContainsKey(option) && !option.Repeatable) throw new CondenseException($"{option.Name} is given more than once");
            given[option] = value.ToLowerInvariant();
        }
        if (positional < command.Arguments.Count)
            throw new CondenseException($"{command.Name} needs {string.Join(" ", command.Arguments.Skip(positional))} (see condense {command.Name} --help)");
        return given;
    }

    private static CondenseException UnknownOption(CommandOptions command, string form)
    {
        var near = Suggestions.Closest(form, command.Options.SelectMany(o => o.Forms).Where(f => f.StartsWith("--", StringComparison.Ordinal)));
        return new CondenseException(near is not null
            ? $"unknown option '{form}'; did you mean '{near}'?"
            : $"unknown option '{form}' for {command.Name}; see condense {command.Name} --help");
    }

    // The option's Requires and ConflictsWith rules against what else was given (or defaults).
    private static void CheckRules(CommandOptions command, OptionInfo option, Dictionary<OptionInfo, string> given)
    {
        if (!IsOn(option, given)) return;
        foreach (var rule in option.Requires)
        {
            // "--text|--images": any one of the alternatives will do.
            var alternatives = rule.Option.Split('|');
            if (alternatives.Length > 1)
            {
                if (alternatives.Any(a => IsOn(command.Find(a)!, given))) continue;
                throw new CondenseException($"{option.Name} only applies with {OptionValues.OrList(alternatives)}");
            }
            var other = command.Find(rule.Option)!;
            bool otherGiven = given.TryGetValue(other, out var value);
            bool met = rule.Values.Count == 0
                ? IsOn(other, given)
                : rule.Values.Contains(otherGiven ? value! : other.Default ?? "", StringComparer.OrdinalIgnoreCase);
            if (met) continue;
            string needed = rule.Values.Count == 0 ? other.Name : $"{other.Name} {OptionValues.OrList(rule.Values)}";
            string instead = otherGiven && rule.Values.Count > 0 ? $", not {other.Name} {value}" : "";
            throw new CondenseException($"{option.Name} only applies with {needed}{instead}");
        }
        foreach (var rule in option.Conflicts)
        {
            var other = command.Find(rule.Option)!;
            if (!IsOn(other, given)) continue;
            string value = given[other];
            if (rule.Values.Count > 0 && !rule.Values.Contains(value, StringComparer.OrdinalIgnoreCase)) continue;
            throw new CondenseException($"{option.Name} cannot be combined with {other.Name}" + (rule.Values.Count > 0 ? $" {value}" : ""));
        }
    }

    // Given, and for a flag set to true (--structured false is the same as leaving it out).
    private static bool IsOn(OptionInfo option, Dictionary<OptionInfo, string> given) =>
        given.TryGetValue(option, out var value) && (option.TakesValue || value == "true");

    // What Spectre reads as an option: '-' then a letter, '?' or a second '-'; "-5" and "-0.1" are values.
    private static bool IsOption(string arg) => arg.Length > 1 && arg[0] == '-' && (arg[1] == '-' || char.IsLetter(arg[1]) || arg[1] == '?');

    private static bool IsHelp(string arg) => arg is "-h" or "--help" or "-?";
}
