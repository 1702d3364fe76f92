// Op names of the typed families: comparisons, logic and selection (Ops/LogicOps).
namespace Condense.Graph;

public static partial class OpTypes
{
    /// <summary>And: logical and of bool tensors.</summary>
    public const string And = "And";
    /// <summary>Equal: elementwise equality, bool result.</summary>
    public const string Equal = "Equal";
    /// <summary>Greater: elementwise a &gt; b, bool result.</summary>
    public const string Greater = "Greater";
    /// <summary>GreaterOrEqual: elementwise a ≥ b, bool result.</summary>
    public const string GreaterOrEqual = "GreaterOrEqual";
    /// <summary>Less: elementwise a &lt; b, bool result.</summary>
    public const string Less = "Less";
    /// <summary>LessOrEqual: elementwise a ≤ b, bool result.</summary>
    public const string LessOrEqual = "LessOrEqual";
    /// <summary>Not: logical negation of a bool tensor.</summary>
    public const string Not = "Not";
    /// <summary>Or: logical or of bool tensors.</summary>
    public const string Or = "Or";
    /// <summary>Where: elements of X where the condition holds, else of Y.</summary>
    public const string Where = "Where";
    /// <summary>Xor: logical exclusive or of bool tensors.</summary>
    public const string Xor = "Xor";
}
