// Tensors of the other element types. A tensor keeps its values in one of three arrays (DataTypes.Storage):
// float[] for float32/float16/bfloat16 (the 16-bit floats kept rounded to their type, so float32 arithmetic
// followed by one rounding gives ONNX's result), double[] for float64, long[] for every integer type and bool
// (kept wrapped to the type's width, uint64 as its bits). Three storages instead of thirteen keep every typed
// op one loop per storage; small integers in a long[] cost memory only where graphs carry them (token ids,
// masks, shapes), while quantized weights keep their float-held form (Graph/ElementType).
namespace Condense.Tensors;

public partial class Tensor
{
    private readonly float[]? _floats;
    private readonly double[]? _doubles;
    private readonly long[]? _longs;
    private readonly int _size;
    private float[]? _floatCopy;

    /// <summary>The element type.</summary>
    public DataType DataType { get; } = DataType.Float32;

    private Tensor(DataType type, float[]? floats, double[]? doubles, long[]? longs, int[] shape)
    {
        int size = Tensors.Shape.Size(shape);
        int length = floats?.Length ?? doubles?.Length ?? longs!.Length;
        if (size != length)
            throw new ArgumentException($"shape {Tensors.Shape.Format(shape)} needs {size} elements, data has {length}");
        DataType = type;
        _floats = floats;
        _doubles = doubles;
        _longs = longs;
        _size = size;
        Shape = (int[])shape.Clone();
    }

    /// <summary>A float64 tensor over <paramref name="data"/> (not copied).</summary>
    public static Tensor FromDoubles(double[] data, params int[] shape) => new(DataType.Float64, null, data, null, shape);

    /// <summary>
    /// An integer or bool tensor over <paramref name="data"/> (not copied); the values are wrapped to
    /// <paramref name="type"/> in place (uint8 300 becomes 44, bool 5 becomes 1).
    /// </summary>
    public static Tensor FromInt64s(long[] data, DataType type, params int[] shape)
    {
        if (type.Storage() != TensorStorage.Int64) throw new ArgumentException($"{type} is not an integer or bool type");
        if (type is not (DataType.Int64 or DataType.UInt64))
            for (int i = 0; i < data.Length; i++) data[i] = type.Wrap(data[i]);
        return new(type, null, null, data, shape);
    }

    /// <summary>A float32, float16 or bfloat16 tensor over <paramref name="data"/> (not copied), rounded to the type in place.</summary>
    public static Tensor FromFloats(float[] data, DataType type, params int[] shape)
    {
        if (type.Storage() != TensorStorage.Single) throw new ArgumentException($"{type} is not float32, float16 or bfloat16");
        if (type != DataType.Float32)
            for (int i = 0; i < data.Length; i++) data[i] = type.Round(data[i]);
        return type == DataType.Float32 ? new(data, shape) : new(type, data, null, null, shape);
    }

    /// <summary>A bool tensor.</summary>
    public static Tensor FromBools(bool[] data, params int[] shape) =>
        new(DataType.Bool, null, null, Array.ConvertAll(data, b => b ? 1L : 0L), shape);

    /// <summary>A tensor of zeros of any type.</summary>
    public static Tensor Zeros(DataType type, params int[] shape) => type.Storage() switch
    {
        TensorStorage.Single => type == DataType.Float32 ? Zeros(shape) : new(type, new float[Tensors.Shape.Size(shape)], null, null, shape),
        TensorStorage.Double => FromDoubles(new double[Tensors.Shape.Size(shape)], shape),
        _ => new(type, null, null, new long[Tensors.Shape.Size(shape)], shape),
    };

    /// <summary>The values of an integer or bool tensor (wrapped to its type; uint64 as its bits). Shared, not copied.</summary>
    public long[] Int64Data => _longs ?? throw new InvalidOperationException($"a {DataType.OnnxName()} tensor has no integer data");

    /// <summary>The values of a float64 tensor. Shared, not copied.</summary>
    public double[] Float64Data => _doubles ?? throw new InvalidOperationException($"a {DataType.OnnxName()} tensor has no float64 data");

    /// <summary>The values of a float32, float16 or bfloat16 tensor. Shared, not copied.</summary>
    internal float[] SingleData => _floats ?? throw new InvalidOperationException($"a {DataType.OnnxName()} tensor has no float32 data");

    /// <summary>Element <paramref name="index"/> (row-major) as a double: exact for every type but int64/uint64 beyond 2^53.</summary>
    public double GetDouble(int index) => DataType.Storage() switch
    {
        TensorStorage.Single => _floats![index],
        TensorStorage.Double => _doubles![index],
        _ => DataType == DataType.UInt64 ? (ulong)_longs![index] : _longs![index],
    };

    /// <summary>
    /// The values as integers, for ops that read shapes, axes and indices: integer tensors as they are, float ones
    /// truncated toward zero (the float-held integers older Condense graphs carry).
    /// </summary>
    public long[] ToInt64Values() => _longs ?? (_doubles is { } d ? Array.ConvertAll(d, v => (long)v) : Array.ConvertAll(Data, v => (long)v));

    /// <summary>The same values viewed with a new shape of the same size, any type; no gradient (use Reshape for that).</summary>
    internal Tensor View(int[] shape) => DataType == DataType.Float32 ? new(_floats!, shape) : new(DataType, _floats, _doubles, _longs, shape);

    /// <summary>A new tensor of this type and the given shape over new storage the caller fills.</summary>
    internal static Tensor Allocate(DataType type, int[] shape) => Zeros(type, shape);

    // The float32 view of a float64 or integer tensor that Data gives: made once, on first use.
    private float[] FloatCopy() => _doubles is { } d ? Array.ConvertAll(d, v => (float)v)
        : DataType == DataType.UInt64 ? Array.ConvertAll(_longs!, v => (float)(ulong)v) : Array.ConvertAll(_longs!, v => (float)v);
}
