// Condense values as ONNX protobuf messages: initializers as raw_data in their element type (little-endian,
// INT4 packed two per byte, low nibble first), float32 value infos with "batch" for dynamic dimensions,
// and node attributes.
using System.Buffers.Binary;
using Condense.Graph;
using Condense.Kernels.Int8Gemm;
using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Condense.Onnx;

internal static class OnnxTensorWriter
{
    /// <summary>The name every dynamic (−1) dimension gets.</summary>
    public const string BatchDim = "batch";

    /// <summary>A tensor value info of the declared element type (float when unknown): fixed dimensions as dim_value, −1 as dim_param "batch".</summary>
    public static ValueInfoProto TypedValueInfo(ValueInfo info)
    {
        var shape = new TensorShapeProto();
        foreach (int d in info.Shape)
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = BatchDim } : new TensorShapeProto.Types.Dimension { DimValue = d });
        int type = Tensors.DataTypes.FromOnnxName(info.DataType) is { } declared ? Tensors.DataTypes.OnnxCode(declared) : (int)DataType.Float;
        var tensor = new TypeProto.Types.Tensor { ElemType = type, Shape = shape };
        return new ValueInfoProto { Name = info.Name, Type = new TypeProto { TensorType = tensor } };
    }

    /// <summary>An initializer in its stored element type; integer values are checked against the type's range.</summary>
    public static TensorProto Tensor(string name, Tensors.Tensor tensor, ElementType type)
    {
        if (tensor.DataType != Tensors.DataType.Float32) return Typed(name, tensor);
        var values = tensor.Data;
        type.CheckValues(name, values);
        byte[] raw;
        DataType dataType;
        switch (type)
        {
            case ElementType.Float32:
                dataType = DataType.Float;
                raw = new byte[values.Length * 4];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(4 * i), values[i]);
                break;
            case ElementType.Int8:
                dataType = DataType.Int8;
                raw = new byte[values.Length];
                for (int i = 0; i < values.Length; i++) raw[i] = (byte)(sbyte)values[i];
                break;
            case ElementType.UInt8:
                dataType = DataType.Uint8;
                raw = new byte[values.Length];
                for (int i = 0; i < values.Length; i++) raw[i] = (byte)values[i];
                break;
            case ElementType.Int32:
                dataType = DataType.Int32;
                raw = new byte[values.Length * 4];
                for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(4 * i), (int)values[i]);
                break;
            case ElementType.Int4:
                dataType = DataType.Int4;
                var nibbles = new sbyte[values.Length];
                for (int i = 0; i < values.Length; i++) nibbles[i] = (sbyte)values[i];
                raw = new byte[Int4.PackedLength(values.Length)];
                Int4.Pack(nibbles, raw);
                break;
            default:
                throw new CondenseException($"initializer '{name}' has element type {type}, which ONNX export does not handle");
        }
        return Make(name, tensor.Shape, dataType, raw);
    }

    /// <summary>A tensor of any element type other than float32, in that type (raw little-endian data).</summary>
    public static TensorProto Typed(string name, Tensors.Tensor tensor) =>
        Make(name, tensor.Shape, (DataType)Tensors.DataTypes.OnnxCode(tensor.DataType), Tensors.TensorBytes.ToLittleEndian(tensor));

    /// <summary>An INT64 initializer from a float tensor of exact integers (Reshape's target shape).</summary>
    public static TensorProto Int64Tensor(string name, Tensors.Tensor tensor)
    {
        if (tensor.DataType == Tensors.DataType.Int64) return Typed(name, tensor);
        var values = tensor.Data;
        var raw = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] != MathF.Round(values[i]))
                throw new CondenseException($"initializer '{name}' is a Reshape shape but holds {values[i]}");
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(8 * i), (long)values[i]);
        }
        return Make(name, tensor.Shape, DataType.Int64, raw);
    }

    /// <summary>A node attribute.</summary>
    public static AttributeProto Attribute(string name, AttributeValue value)
    {
        var a = new AttributeProto { Name = name };
        switch (value.Kind)
        {
            case AttributeKind.Int: a.Type = AttributeProto.Types.AttributeType.Int; a.I = value.IntValue; break;
            case AttributeKind.Float: a.Type = AttributeProto.Types.AttributeType.Float; a.F = value.FloatValue; break;
            case AttributeKind.String: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(value.StringValue!); break;
            case AttributeKind.Ints: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(value.IntsValue!); break;
            case AttributeKind.Floats: a.Type = AttributeProto.Types.AttributeType.Floats; a.Floats.AddRange(value.FloatsValue!); break;
            case AttributeKind.Tensor: a.Type = AttributeProto.Types.AttributeType.Tensor; a.T = Typed("", value.TensorValue!); break;
        }
        return a;
    }

    private static TensorProto Make(string name, int[] shape, DataType type, byte[] raw)
    {
        var proto = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        foreach (int d in shape) proto.Dims.Add(d);
        return proto;
    }
}
