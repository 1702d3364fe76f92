// One command's options and positional arguments as its settings class declares them (Spectre's
// [CommandOption] and [CommandArgument] attributes, found by reflection), with each option's value type,
// default and rules: what StrictCommandLine checks a command line against.
using System.Globalization;
using System.Reflection;
using Spectre.Console.Cli;

namespace Condense.Cli.CommandLine;

/// <summary>One option of a command.</summary>
internal sealed class OptionInfo(PropertyInfo property, CommandOptionAttribute attribute, object? defaultValue)
{
    /// <summary>The name shown in messages: the long form ("--sparsity").</summary>
    public string Name { get; } = attribute.LongNames.Count > 0 ? "--" + attribute.LongNames[0] : "-" + attribute.ShortNames[0];

    /// <summary>Every form that selects the option ("--seed", "-s").</summary>
    public IReadOnlyList<string> Forms { get; } = [.. attribute.LongNames.Select(n => "--" + n), .. attribute.ShortNames.Select(n => "-" + n)];

    /// <summary>True for an option that takes a value; false for a flag.</summary>
    public bool TakesValue { get; } = attribute.ValueName is not null;

    /// <summary>True when the option may be given more than once (an array of values).</summary>
    public bool Repeatable { get; } = property.PropertyType.IsArray;

    /// <summary>The type each value converts to (the element type of an array, without Nullable).</summary>
    public Type ValueType { get; } = OptionValues.ElementType(property.PropertyType);

    /// <summary>The value when the option is not given, as a lower-case string ("oneshot", "8", "false"); null when none.</summary>
    public string? Default { get; } =
        defaultValue is null or Array ? null : Convert.ToString(defaultValue, CultureInfo.InvariantCulture)?.ToLowerInvariant();

    /// <summary>Options this one needs.</summary>
    public IReadOnlyList<RequiresAttribute> Requires { get; } = [.. property.GetCustomAttributes<RequiresAttribute>()];

    /// <summary>Options this one contradicts.</summary>
    public IReadOnlyList<ConflictsWithAttribute> Conflicts { get; } = [.. property.GetCustomAttributes<ConflictsWithAttribute>()];
}

/// <summary>A command's options and positional arguments.</summary>
internal sealed class CommandOptions
{
    private CommandOptions(string name, IReadOnlyList<OptionInfo> options, IReadOnlyList<string> arguments)
    {
        Name = name;
        Options = options;
        Arguments = arguments;
    }

    /// <summary>The command's name ("prune").</summary>
    public string Name { get; }

    /// <summary>Its options, in declaration order.</summary>
    public IReadOnlyList<OptionInfo> Options { get; }

    /// <summary>Its positional arguments' names, in position order ("MODEL").</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>The option selected by <paramref name="form"/> ("--seed" or "-s"), or null.</summary>
    public OptionInfo? Find(string form) => Options.FirstOrDefault(o => o.Forms.Contains(form, StringComparer.Ordinal));

    /// <summary>Reads the options and arguments of <paramref name="settingsType"/>.</summary>
    public static CommandOptions Of(string name, Type settingsType)
    {
        // A fresh settings object holds the defaults (property initializers), which rules compare against.
        object defaults = Activator.CreateInstance(settingsType)!;
        var properties = settingsType.GetProperties(BindingFlags.Public | BindingFlags.Instance);
        var options = properties
            .Select(p => (Property: p, Attribute: p.GetCustomAttribute<CommandOptionAttribute>()))
            .Where(x => x.Attribute is not null)
            .Select(x => new OptionInfo(x.Property, x.Attribute!, x.Property.GetValue(defaults)))
            .ToList();
        var arguments = properties
            .Select(p => p.GetCustomAttribute<CommandArgumentAttribute>())
            .OfType<CommandArgumentAttribute>()
            .OrderBy(a => a.Position)
            .Select(a => a.ValueName)
            .ToList();
        foreach (var option in options)
            foreach (var other in option.Requires.SelectMany(r => r.Option.Split('|')).Concat(option.Conflicts.Select(c => c.Option)))
                if (options.All(o => o.Name != other))
                    throw new InvalidOperationException($"{settingsType.FullName}: {option.Name} refers to unknown option {other}");
        return new CommandOptions(name, options, arguments);
    }

    /// <summary>The settings type of a Spectre command (the T of Command&lt;T&gt;).</summary>
    public static Type SettingsTypeOf(Type commandType)
    {
        for (var t = commandType; t is not null; t = t.BaseType)
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(Command<>)) return t.GetGenericArguments()[0];
        throw new InvalidOperationException($"{commandType.FullName} is not a Command<TSettings>");
    }
}
