// The tensor: a contiguous row-major buffer and a shape. Float32 is the type Condense trains in; tensors of the
// other ONNX element types (Tensor.Typed.cs) flow through graphs without gradients. Autograd state (gradient
// and the function that produced it) lives in Tensor.Autograd.cs; the ops in Ops*.cs beside it.
namespace Condense.Tensors;

/// <summary>A dense tensor in row-major (C) order: float32 unless built as another <see cref="Tensors.DataType"/>.</summary>
public partial class Tensor
{
    /// <summary>Wraps <paramref name="data"/> (not copied) with the given shape.</summary>
    public Tensor(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        int size = Tensors.Shape.Size(shape);
        if (size != data.Length)
            throw new ArgumentException($"shape {Tensors.Shape.Format(shape)} needs {size} elements, data has {data.Length}");
        _floats = data;
        _size = size;
        Shape = (int[])shape.Clone();
    }

    /// <summary>
    /// The elements, row-major. Shared, not copied: writing to it changes the tensor. For a float64, integer or
    /// bool tensor it is a float32 copy of the values, made once (integers beyond 2^24 rounded): ops that must be
    /// exact read <see cref="Int64Data"/> or <see cref="Float64Data"/>.
    /// </summary>
    public float[] Data => _floats ?? (_floatCopy ??= FloatCopy());

    /// <summary>The dimensions. Do not modify.</summary>
    public int[] Shape { get; }

    /// <summary>The number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>The number of elements.</summary>
    public int Size => _size;

    /// <summary>Size of dimension <paramref name="dim"/>; negative values count from the end.</summary>
    public int Dim(int dim) => Shape[dim < 0 ? dim + Rank : dim];

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(params int[] shape) => new(new float[Tensors.Shape.Size(shape)], shape);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(float value, params int[] shape)
    {
        var t = Zeros(shape);
        Array.Fill(t.Data, value);
        return t;
    }

    /// <summary>A scalar (rank-0) tensor.</summary>
    public static Tensor Scalar(float value) => new([value]);

    /// <summary>Uniform samples in [low, high).</summary>
    public static Tensor Uniform(Rng rng, float low, float high, params int[] shape)
    {
        var t = Zeros(shape);
        for (int i = 0; i < t.Data.Length; i++) t.Data[i] = low + (high - low) * rng.NextFloat();
        return t;
    }

    /// <summary>Normal samples with the given mean and standard deviation.</summary>
    public static Tensor Normal(Rng rng, float mean, float std, params int[] shape)
    {
        var t = Zeros(shape);
        for (int i = 0; i < t.Data.Length; i++) t.Data[i] = mean + std * rng.NextNormal();
        return t;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public float Item()
    {
        if (Size != 1) throw new InvalidOperationException($"Item() needs one element, tensor has shape {Tensors.Shape.Format(Shape)}");
        return Data[0];
    }

    /// <summary>Element at a multi-dimensional index.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public float this[params int[] index]
    {
        get => Data[Offset(index)];
        set { Data[Offset(index)] = value; Version++; }
    }

    private int Offset(int[] index)
    {
        if (index.Length != Rank) throw new ArgumentException($"index of rank {index.Length} for tensor of rank {Rank}");
        int offset = 0;
        for (int i = 0; i < Rank; i++)
        {
            if ((uint)index[i] >= (uint)Shape[i]) throw new IndexOutOfRangeException();
            offset = offset * Shape[i] + index[i];
        }
        return offset;
    }

    /// <summary>
    /// Counts in-place changes of <see cref="Data"/> made through the library (optimizer steps, pruning,
    /// loading weights). Caches derived from the values (a sparse copy for inference) compare it.
    /// Call <see cref="MarkModified"/> after writing to <see cref="Data"/> yourself.
    /// </summary>
    public int Version { get; private set; }

    /// <summary>Records that <see cref="Data"/> was changed in place.</summary>
    public void MarkModified() => Version++;

    /// <summary>A copy of the values with no autograd history.</summary>
    public Tensor Clone() => DataType switch
    {
        DataType.Float32 => new((float[])_floats!.Clone(), Shape),
        _ => new Tensor(DataType, _floats?.Clone() as float[], _doubles?.Clone() as double[], _longs?.Clone() as long[], Shape),
    };

    /// <summary>
    /// Allocates a tensor whose contents the caller will fully overwrite: on a reused array of the thread's current
    /// <see cref="TensorArena"/> during an inference pass, else a new one.
    /// </summary>
    internal static Tensor Uninitialized(params int[] shape) => new(TensorArena.Allocate(Tensors.Shape.Size(shape)), shape);

    /// <inheritdoc />
    public override string ToString() =>
        DataType == DataType.Float32 ? $"Tensor{Tensors.Shape.Format(Shape)}" : $"Tensor<{DataType.OnnxName()}>{Tensors.Shape.Format(Shape)}";
}
