// .npy arrays as tensors of their own element type and back: every dtype NPY holds that ONNX has (float16/32/64,
// int8–64, uint8–64, bool). bfloat16 has no NumPy dtype: a bfloat16 tensor is written as float32, which holds it exactly.
using Condense.Tensors;

namespace Condense.Data;

public sealed partial record NpyArray
{
    /// <summary>The array as a tensor of the same element type and shape.</summary>
    public Tensor ToTensor() => TensorBytes.FromLittleEndian(TypeOf(Dtype), Data, Shape);

    /// <summary>The tensor as an array of its element type (bfloat16 as float32).</summary>
    public static NpyArray FromTensor(Tensor tensor)
    {
        if (tensor.DataType == DataType.BFloat16) tensor = TypedOps.Cast(tensor, DataType.Float32);
        return new NpyArray(DtypeOf(tensor.DataType), tensor.Shape, TensorBytes.ToLittleEndian(tensor));
    }

    private static DataType TypeOf(NpyDtype dtype) => dtype switch
    {
        NpyDtype.Float32 => DataType.Float32, NpyDtype.Float64 => DataType.Float64, NpyDtype.Float16 => DataType.Float16,
        NpyDtype.Int8 => DataType.Int8, NpyDtype.Int16 => DataType.Int16, NpyDtype.Int32 => DataType.Int32, NpyDtype.Int64 => DataType.Int64,
        NpyDtype.UInt8 => DataType.UInt8, NpyDtype.UInt16 => DataType.UInt16, NpyDtype.UInt32 => DataType.UInt32,
        NpyDtype.UInt64 => DataType.UInt64, _ => DataType.Bool,
    };

    private static NpyDtype DtypeOf(DataType type) => type switch
    {
        DataType.Float32 => NpyDtype.Float32, DataType.Float64 => NpyDtype.Float64, DataType.Float16 => NpyDtype.Float16,
        DataType.Int8 => NpyDtype.Int8, DataType.Int16 => NpyDtype.Int16, DataType.Int32 => NpyDtype.Int32, DataType.Int64 => NpyDtype.Int64,
        DataType.UInt8 => NpyDtype.UInt8, DataType.UInt16 => NpyDtype.UInt16, DataType.UInt32 => NpyDtype.UInt32,
        DataType.UInt64 => NpyDtype.UInt64, _ => NpyDtype.Bool,
    };
}
