// Comparisons and logic, any element type in, bool out (ONNX Equal, Less, LessOrEqual, Greater, GreaterOrEqual,
// And, Or, Xor, Not). Integers compare exactly (uint64 as unsigned), floats as IEEE does (NaN equals nothing).
namespace Condense.Tensors;

/// <summary>An ONNX comparison.</summary>
public enum Comparison { Equal, Less, LessOrEqual, Greater, GreaterOrEqual }

/// <summary>An ONNX binary logical op on bool tensors.</summary>
public enum Logic { And, Or, Xor }

public static partial class TypedOps
{
    /// <summary>The comparison element by element with broadcasting: a bool tensor.</summary>
    public static Tensor Compare(Tensor a, Tensor b, Comparison comparison)
    {
        CheckSameType(comparison.ToString(), a, b);
        var shape = BroadcastIndex.Shape(a.Shape, b.Shape);
        var ma = BroadcastIndex.Map(a.Shape, shape);
        var mb = BroadcastIndex.Map(b.Shape, shape);
        var y = Tensor.Allocate(DataType.Bool, shape);
        var result = y.Int64Data;
        var type = a.DataType;
        for (int i = 0; i < result.Length; i++)
        {
            int ia = ma?[i] ?? i, ib = mb?[i] ?? i;
            // -1, 0, 1 as a < b, a == b, a > b; 2 when unordered (NaN), which fails every comparison.
            int order = type.Storage() switch
            {
                TensorStorage.Single => Order(a.SingleData[ia], b.SingleData[ib]),
                TensorStorage.Double => Order(a.Float64Data[ia], b.Float64Data[ib]),
                _ => type == DataType.UInt64 ? ((ulong)a.Int64Data[ia]).CompareTo((ulong)b.Int64Data[ib])
                    : a.Int64Data[ia].CompareTo(b.Int64Data[ib]),
            };
            bool holds = order != 2 && comparison switch
            {
                Comparison.Equal => order == 0,
                Comparison.Less => order < 0,
                Comparison.LessOrEqual => order <= 0,
                Comparison.Greater => order > 0,
                _ => order >= 0,
            };
            result[i] = holds ? 1 : 0;
        }
        return y;
    }

    /// <summary>And, Or or Xor of two bool tensors with broadcasting.</summary>
    public static Tensor Logical(Tensor a, Tensor b, Logic logic)
    {
        CheckBool(logic.ToString(), a);
        CheckBool(logic.ToString(), b);
        var shape = BroadcastIndex.Shape(a.Shape, b.Shape);
        var ma = BroadcastIndex.Map(a.Shape, shape);
        var mb = BroadcastIndex.Map(b.Shape, shape);
        var y = Tensor.Allocate(DataType.Bool, shape);
        var (la, lb, ly) = (a.Int64Data, b.Int64Data, y.Int64Data);
        for (int i = 0; i < ly.Length; i++)
        {
            long x = la[ma?[i] ?? i], z = lb[mb?[i] ?? i];
            ly[i] = logic switch { Logic.And => x & z, Logic.Or => x | z, _ => x ^ z };
        }
        return y;
    }

    /// <summary>The negation of a bool tensor.</summary>
    public static Tensor Not(Tensor x)
    {
        CheckBool(nameof(Not), x);
        return Tensor.FromInt64s(Array.ConvertAll(x.Int64Data, v => 1 - v), DataType.Bool, x.Shape);
    }

    internal static void CheckBool(string op, Tensor x)
    {
        if (x.DataType != DataType.Bool) throw new CondenseException($"{op} needs bool inputs, got {x.DataType.OnnxName()}");
    }

    private static int Order(float a, float b) => float.IsNaN(a) || float.IsNaN(b) ? 2 : a.CompareTo(b);

    private static int Order(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? 2 : a.CompareTo(b);
}
