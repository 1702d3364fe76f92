// Checks an option's value before Spectre converts it, so a value that does not parse is a message naming
// the option and what it expects ("--seed expects a non-negative whole number, got '-5'") rather than
// Spectre's "Failed to convert '-5' to UInt64". It accepts no more than Spectre's converters do.
using System.Globalization;

namespace Condense.Cli.CommandLine;

internal static class OptionValues
{
    /// <summary>The type one value converts to: the element type of an array, without Nullable.</summary>
    public static Type ElementType(Type type)
    {
        var element = type.IsArray ? type.GetElementType()! : type;
        return Nullable.GetUnderlyingType(element) ?? element;
    }

    /// <summary>What a value of <paramref name="type"/> looks like, for messages ("a number").</summary>
    public static string Expected(Type type) => type switch
    {
        _ when type == typeof(float) || type == typeof(double) => "a number",
        _ when type == typeof(int) || type == typeof(long) => "a whole number",
        _ when type == typeof(uint) || type == typeof(ulong) => "a non-negative whole number",
        { IsEnum: true } => OrList(Choices(type)),
        _ => "a value",
    };

    /// <summary>True when <paramref name="value"/> converts to <paramref name="type"/>.</summary>
    public static bool IsValid(Type type, string value)
    {
        var invariant = CultureInfo.InvariantCulture;
        if (type == typeof(float)) return float.TryParse(value, NumberStyles.Float, invariant, out _);
        if (type == typeof(double)) return double.TryParse(value, NumberStyles.Float, invariant, out _);
        if (type == typeof(int)) return int.TryParse(value, NumberStyles.Integer, invariant, out _);
        if (type == typeof(long)) return long.TryParse(value, NumberStyles.Integer, invariant, out _);
        if (type == typeof(uint)) return uint.TryParse(value, NumberStyles.Integer, invariant, out _);
        if (type == typeof(ulong)) return ulong.TryParse(value, NumberStyles.Integer, invariant, out _);
        // Only a declared name: Enum.Parse would also take numbers and comma-joined names.
        if (type.IsEnum) return Choices(type).Contains(value, StringComparer.OrdinalIgnoreCase);
        return true;
    }

    /// <summary>An enum's values as they are typed on the command line (lower case).</summary>
    public static IReadOnlyList<string> Choices(Type enumType) => [.. Enum.GetNames(enumType).Select(n => n.ToLowerInvariant())];

    /// <summary>"a", "a or b", "a, b or c".</summary>
    public static string OrList(IReadOnlyList<string> items) =>
        items.Count <= 1 ? string.Join("", items) : string.Join(", ", items.Take(items.Count - 1)) + " or " + items[^1];
}
