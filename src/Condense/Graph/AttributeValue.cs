// A node attribute, as ONNX defines them: an int, a float, a string, a list of ints or floats, or a tensor.
namespace Condense.Graph;

/// <summary>The kind of an attribute value.</summary>
public enum AttributeKind { Int, Float, String, Ints, Floats, Tensor }

/// <summary>An immutable node attribute.</summary>
public sealed record AttributeValue(AttributeKind Kind, long IntValue = 0, float FloatValue = 0, string? StringValue = null,
    long[]? IntsValue = null, float[]? FloatsValue = null, Tensors.Tensor? TensorValue = null)
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
    /// <summary>A tensor (ConstantOfShape's value); its first element is also <see cref="FloatValue"/>.</summary>
    public static AttributeValue Tensor(Tensors.Tensor value) =>
        new(AttributeKind.Tensor, FloatValue: value.Size > 0 ? (float)value.GetDouble(0) : 0f, TensorValue: value);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        AttributeKind.Int => IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AttributeKind.Float => FloatValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        AttributeKind.String => StringValue!,
        AttributeKind.Ints => "[" + string.Join(", ", IntsValue!) + "]",
        AttributeKind.Tensor => TensorValue!.ToString(),
        _ => "[" + string.Join(", ", FloatsValue!.Select(f => f.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]",
    };
}
