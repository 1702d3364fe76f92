// Elementwise arithmetic with NumPy broadcasting, and its gradients: the gradient of a broadcast
// operand is the output gradient summed over the broadcast dimensions. Large outputs are split between threads
// (each element is computed alone, so the bits do not depend on the thread count).
using System.Numerics.Tensors;
using Condense.Kernels.Elementwise;
using Condense.Kernels.Platform;

namespace Condense.Tensors;

public partial class Tensor
{
    private enum BinaryOp { Add, Sub, Mul, Div }

    /// <summary>Elementwise sum with broadcasting.</summary>
    public Tensor Add(Tensor other) => Binary(this, other, BinaryOp.Add);
    /// <summary>Elementwise difference with broadcasting.</summary>
    public Tensor Sub(Tensor other) => Binary(this, other, BinaryOp.Sub);
    /// <summary>Elementwise product with broadcasting.</summary>
    public Tensor Mul(Tensor other) => Binary(this, other, BinaryOp.Mul);
    /// <summary>Elementwise quotient with broadcasting.</summary>
    public Tensor Div(Tensor other) => Binary(this, other, BinaryOp.Div);

    /// <summary>Adds a constant.</summary>
    public Tensor Add(float value) => Add(Scalar(value));
    /// <summary>Multiplies by a constant.</summary>
    public Tensor Mul(float value)
    {
        var result = Uninitialized(Shape);
        TensorPrimitives.Multiply(Data, value, result.Data);
        return Record(result, g =>
        {
            var gx = GC.AllocateUninitializedArray<float>(Size);
            TensorPrimitives.Multiply(g.Data, value, gx);
            AccumulateGrad(gx);
        }, this);
    }

    /// <summary>Elementwise sum.</summary>
    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    /// <summary>Elementwise difference.</summary>
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    /// <summary>Elementwise product.</summary>
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    /// <summary>Elementwise quotient.</summary>
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    /// <summary>Multiplies by a constant.</summary>
    public static Tensor operator *(Tensor a, float s) => a.Mul(s);
    /// <summary>Negation.</summary>
    public static Tensor operator -(Tensor a) => a.Mul(-1f);

    private static Tensor Binary(Tensor a, Tensor b, BinaryOp op)
    {
        var outShape = Tensors.Shape.Equal(a.Shape, b.Shape) ? a.Shape : Tensors.Shape.Broadcast(a.Shape, b.Shape);
        var result = Uninitialized(outShape);
        Apply(op, a, b, result);
        return Record(result, g => BinaryBackward(op, a, b, g), a, b);
    }

    private static void Apply(BinaryOp op, Tensor a, Tensor b, Tensor result)
    {
        var outShape = result.Shape;
        int width = outShape.Length == 0 ? 1 : outShape[^1];
        if (a.Size == result.Size && b.Size == result.Size)
        {
            // Large tensors (a transformer's [batch, L, 4·d] activations) in blocks split between threads.
            ParallelRanges.For((result.Size + Block - 1) / Block, result.Size, ParallelElements, (first, last) =>
            {
                int start = first * Block, length = Math.Min(last * Block, result.Size) - start;
                Row(op, a.Data.AsSpan(start, length), 1, b.Data.AsSpan(start, length), 1, result.Data.AsSpan(start, length));
            });
            return;
        }
        var rowsA = Broadcast.RowOffsets(Broadcast.StridesIn(a.Shape, outShape), outShape, out int innerA);
        var rowsB = Broadcast.RowOffsets(Broadcast.StridesIn(b.Shape, outShape), outShape, out int innerB);
        ParallelRanges.For(rowsA.Length, result.Size, ParallelElements, (first, last) =>
        {
            for (int r = first; r < last; r++)
                Row(op, a.Data.AsSpan(rowsA[r], innerA == 1 ? width : 1), innerA,
                        b.Data.AsSpan(rowsB[r], innerB == 1 ? width : 1), innerB,
                        result.Data.AsSpan(r * width, width));
        });
    }

    // Elements below which one thread does the whole operation, and the block each thread takes at a time.
    private const int ParallelElements = 1 << 16, Block = 4096;

    // One output row: each operand is a full row (stride 1) or one repeated value (stride 0).
    private static void Row(BinaryOp op, ReadOnlySpan<float> x, int sx, ReadOnlySpan<float> y, int sy, Span<float> d)
    {
        switch (op, sx, sy)
        {
            case (BinaryOp.Add, 1, 1): TensorPrimitives.Add(x, y, d); break;
            case (BinaryOp.Add, 1, 0): TensorPrimitives.Add(x, y[0], d); break;
            case (BinaryOp.Add, 0, 1): TensorPrimitives.Add(y, x[0], d); break;
            case (BinaryOp.Sub, 1, 1): TensorPrimitives.Subtract(x, y, d); break;
            case (BinaryOp.Sub, 1, 0): TensorPrimitives.Subtract(x, y[0], d); break;
            case (BinaryOp.Sub, 0, 1): TensorPrimitives.Subtract(x[0], y, d); break;
            case (BinaryOp.Mul, 1, 1): TensorPrimitives.Multiply(x, y, d); break;
            case (BinaryOp.Mul, 1, 0): TensorPrimitives.Multiply(x, y[0], d); break;
            case (BinaryOp.Mul, 0, 1): TensorPrimitives.Multiply(y, x[0], d); break;
            case (BinaryOp.Div, 1, 1): TensorPrimitives.Divide(x, y, d); break;
            case (BinaryOp.Div, 1, 0): TensorPrimitives.Divide(x, y[0], d); break;
            case (BinaryOp.Div, 0, 1): TensorPrimitives.Divide(x[0], y, d); break;
            default: // both broadcast: a repeated scalar pair
                float v = op switch
                {
                    BinaryOp.Add => x[0] + y[0], BinaryOp.Sub => x[0] - y[0],
                    BinaryOp.Mul => x[0] * y[0], _ => x[0] / y[0],
                };
                d.Fill(v);
                break;
        }
    }

    private static void BinaryBackward(BinaryOp op, Tensor a, Tensor b, Tensor g)
    {
        // d(a+b) = (g, g); d(a-b) = (g, -g); d(a*b) = (g*b, g*a); d(a/b) = (g/b, -g*a/b²)
        using var _ = Autograd.GradMode.NoGrad();
        if (a.RequiresGrad)
        {
            if (op is BinaryOp.Add or BinaryOp.Sub) ReduceInto(a, g, owned: false);
            else ReduceInto(a, op == BinaryOp.Mul ? g.Mul(b) : g.Div(b), owned: true);
        }
        if (b.RequiresGrad)
        {
            if (op == BinaryOp.Add) ReduceInto(b, g, owned: false);
            else
            {
                var gb = op switch
                {
                    BinaryOp.Sub => g.Mul(-1f),
                    BinaryOp.Mul => g.Mul(a),
                    _ => g.Mul(a).Div(b.Mul(b)).Mul(-1f),
                };
                ReduceInto(b, gb, owned: true);
            }
        }
    }

    // Accumulates a gradient of the broadcast output shape into an operand of a smaller shape.
    // A gradient handed to several parents (owned: false) is copied before a parent keeps it.
    private static void ReduceInto(Tensor operand, Tensor g, bool owned)
    {
        if (g.Size == operand.Size)
        {
            operand.AccumulateGrad(owned ? g.Data : (float[])g.Data.Clone());
            return;
        }
        var (buffer, beta) = operand.GradTarget();
        if (beta == 0f) Array.Clear(buffer);
        Broadcast.SumInto(g.Data, g.Shape, operand.Shape, buffer);
    }
}
