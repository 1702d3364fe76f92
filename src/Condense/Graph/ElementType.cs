// The element type a float-held initializer stands for: quantized weights, zero points and int32 biases, read only by
// quantization ops, are float32 tensors of exact integers (the form the QDQ passes and integer engines work on); this
// type says how they are stored in a file and exported. Other integer tensors have their own Tensors.DataType.
namespace Condense.Graph;

/// <summary>The stored type of an initializer's elements.</summary>
public enum ElementType
{
    /// <summary>32-bit float (the default).</summary>
    Float32,
    /// <summary>Signed 8-bit integer.</summary>
    Int8,
    /// <summary>Unsigned 8-bit integer.</summary>
    UInt8,
    /// <summary>Signed 32-bit integer (exact in float32 only up to 2^24 in magnitude).</summary>
    Int32,
    /// <summary>Signed 4-bit integer, stored two per byte (low nibble first, as ONNX int4).</summary>
    Int4,
}

/// <summary>Ranges and checks of element types.</summary>
public static class ElementTypes
{
    /// <summary>The smallest and largest value of an integer type.</summary>
    public static (long Min, long Max) Range(this ElementType type) => type switch
    {
        ElementType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        ElementType.UInt8 => (byte.MinValue, byte.MaxValue),
        ElementType.Int32 => (int.MinValue, int.MaxValue),
        ElementType.Int4 => (-8, 7),
        _ => throw new ArgumentException($"{type} is not an integer type"),
    };

    /// <summary>Throws unless every value is an integer inside the type's range.</summary>
    public static void CheckValues(this ElementType type, string name, ReadOnlySpan<float> values)
    {
        if (type == ElementType.Float32) return;
        var (min, max) = type.Range();
        foreach (float v in values)
            if (v != MathF.Round(v) || v < min || v > max)
                throw new CondenseException($"initializer '{name}' is declared {type} but holds {v}");
    }
}
