// A node attribute, as ONNX defines them: an int, a float, a string, or a list of ints or floats.
namespace Condense.Graph;

/// <summary>The kind of an attribute value.</summary>
public enum AttributeKind { Int, Float, String, Ints, Floats }

/// <summary>An immutable node attribute.</summary>
public sealed record AttributeValue(AttributeKind Kind, long IntValue = 0, float FloatValue = 0, string? StringValue = null,
    long[]? IntsValue = null, float[]? FloatsValue = null)
{
    /// <summary>An integer attribute.</summary>
    public static AttributeValue Int(long value) => new(AttributeKind.Int, IntValue: value);
    /// <summary>A float attribute.</summary>
    public static AttributeValue Float(float value) => new(AttributeKind.Float, FloatValue: value);
    /// <summary>A string attribute.</summary>
    public static AttributeValue String(string value) => new(AttributeKind.String, StringValue: value);
    /// <summary>A list of integers.</summary>
    public static AttributeValue Ints(params long[] values) => new(AttributeKind.Ints, IntsValue: values);
    /// <summary>A list of floats.</summary>
    public static AttributeValue Floats(params float[] values) => new(AttributeKind.Floats, FloatsValue: values);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        AttributeKind.Int => IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AttributeKind.Float => FloatValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AttributeKind.String => StringValue!,
        AttributeKind.Ints => "[" + string.Join(", ", IntsValue!) + "]",
        _ => "[" + string.Join(", ", FloatsValue!.Select(f => f.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]",
    };
}
