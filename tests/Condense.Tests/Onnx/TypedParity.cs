// ONNX Runtime as the oracle for ops on any element type: a tiny graph with typed inputs runs in ONNX Runtime
// and in Condense, and every output must match in type, shape and value (integers and bool exactly, floats within
// the conformance tolerances). Ops tests build their cases with Random inputs of each type the op allows.
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Tests.Onnx;

public static class TypedParity
{
    /// <summary>
    /// Null when Condense's outputs of the graph match ONNX Runtime's, else the first difference (or Condense's
    /// one-line refusal, prefixed "refused: ").
    /// </summary>
    public static string? Mismatch(NodeProto[] nodes, (string Name, Tensor Value)[] inputs, (string Name, DataType Type)[] outputs,
        long opset = 13, TensorProto[]? initializers = null)
    {
        var model = Model(nodes, inputs, outputs, opset, initializers);
        var expected = RunOnnxRuntime(model, inputs);
        string path = OnnxTestModels.Save(model, "typed-parity");
        try
        {
            Dictionary<string, Tensor> actual;
            try
            {
                var module = new GraphModule(OnnxImporter.Import(path));
                module.Eval();
                using (GradMode.NoGrad()) actual = module.Run(inputs.ToDictionary(i => i.Name, i => i.Value));
            }
            catch (CondenseException e) { return "refused: " + e.Message; }
            foreach (var (name, _) in outputs)
                if (OnnxConformanceTests.OutputMismatch(nodes[^1].OpType, name, expected[name], actual[name]) is { } m) return m;
            return null;
        }
        finally { File.Delete(path); }
    }

    /// <summary>Seeded random values of a type: floats in [−2, 2), signed integers in [−50, 50], unsigned in [0, 100], bool.</summary>
    public static Tensor Random(DataType type, int[] shape, ulong seed, double low = -2, double high = 2)
    {
        var rng = new Rng(seed);
        int n = Condense.Tensors.Shape.Size(shape);
        switch (type.Storage())
        {
            case TensorStorage.Single:
                return Tensor.FromFloats(Enumerable.Range(0, n).Select(_ => (float)(low + (high - low) * rng.NextFloat())).ToArray(), type, shape);
            case TensorStorage.Double:
                return Tensor.FromDoubles(Enumerable.Range(0, n).Select(_ => low + (high - low) * rng.NextFloat()).ToArray(), shape);
            default:
                long min = type == DataType.Bool ? 0 : type.IsSignedInteger() ? -50 : 0, max = type == DataType.Bool ? 1 : type.IsSignedInteger() ? 50 : 100;
                return Tensor.FromInt64s(Enumerable.Range(0, n).Select(_ => min + (long)(rng.NextFloat() * (max - min + 1))).ToArray(), type, shape);
        }
    }

    /// <summary>The model of the case: typed graph inputs and outputs, opset <paramref name="opset"/>.</summary>
    public static ModelProto Model(NodeProto[] nodes, (string Name, Tensor Value)[] inputs, (string Name, DataType Type)[] outputs,
        long opset = 13, TensorProto[]? initializers = null)
    {
        var graph = new GraphProto { Name = "typed-parity" };
        graph.Node.AddRange(nodes);
        foreach (var (name, value) in inputs) graph.Input.Add(ValueInfo(name, value.DataType, value.Shape));
        foreach (var (name, type) in outputs)
        {
            var tensorType = new TypeProto.Types.Tensor { ElemType = type.OnnxCode() };
            graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } });
        }
        if (initializers is not null) graph.Initializer.AddRange(initializers);
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Condense.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }

    private static ValueInfoProto ValueInfo(string name, DataType type, int[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (int d in shape) tensorShape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        var tensorType = new TypeProto.Types.Tensor { ElemType = type.OnnxCode(), Shape = tensorShape };
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }

    /// <summary>Every output of the model as ONNX Runtime computes it, as Condense tensors of the same type.</summary>
    public static Dictionary<string, Tensor> RunOnnxRuntime(ModelProto model, (string Name, Tensor Value)[] inputs, SessionOptions? options = null)
    {
        using var session = options is null ? new InferenceSession(model.ToByteArray()) : new InferenceSession(model.ToByteArray(), options);
        var values = inputs.Select(i => ToOrt(i.Value)).ToList();
        try
        {
            var names = model.Graph.Output.Select(o => o.Name).ToArray();
            // InferenceSession.Run passes runOptions.Handle to native code without GC.KeepAlive: an inline `new RunOptions()`
            // can be finalized (and freed) by a GC on another test's thread while ORT still reads it — a SIGSEGV inside
            // libonnxruntime that appeared only under parallel tests. `using` keeps it alive to the end of the call.
            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, names);
            return names.Select((name, k) => (name, FromOrt(results[k]))).ToDictionary(p => p.name, p => p.Item2);
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    private static OrtValue ToOrt(Tensor t)
    {
        long[] shape = t.Shape.Select(d => (long)d).ToArray();
        return t.DataType switch
        {
            DataType.Float32 => OrtValue.CreateTensorValueFromMemory(t.Data.ToArray(), shape),
            DataType.Float64 => OrtValue.CreateTensorValueFromMemory(t.Float64Data.ToArray(), shape),
            DataType.Float16 => OrtValue.CreateTensorValueFromMemory(
                t.Data.Select(v => new Float16(BitConverter.HalfToUInt16Bits((Half)v))).ToArray(), shape),
            DataType.BFloat16 => OrtValue.CreateTensorValueFromMemory(
                t.Data.Select(v => new BFloat16((ushort)(BitConverter.SingleToUInt32Bits(v) >> 16))).ToArray(), shape),
            DataType.Int8 => OrtValue.CreateTensorValueFromMemory(t.Int64Data.Select(v => (sbyte)v).ToArray(), shape),
            DataType.Int16 => OrtValue.CreateTensorValueFromMemory(t.Int64Data.Select(v => (short)v).ToArray(), shape),
            DataType.Int32 => OrtValue.CreateTensorValueFromMemory(t.Int64Data.Select(v => (int)v).ToArray(), shape),
            DataType.Int64 => OrtValue.CreateTensorValueFromMemory(t.Int64Data.ToArray(), shape),
            DataType.UInt8 => OrtValue.CreateTensorValueFromMemory(t.Int64Data.Select(v => (byte)v).ToArray(), shape),
            DataType.UInt16 => OrtValue.CreateTensorValueFromMemory(t.Int64Data.Select(v => (ushort)v).ToArray(), shape),
            DataType.UInt32 => OrtValue.CreateTensorValueFromMemory(t.Int64Data.Select(v => (uint)v).ToArray(), shape),
            DataType.UInt64 => OrtValue.CreateTensorValueFromMemory(t.Int64Data.Select(v => (ulong)v).ToArray(), shape),
            _ => OrtValue.CreateTensorValueFromMemory(t.Int64Data.Select(v => v != 0).ToArray(), shape),
        };
    }

    private static Tensor FromOrt(OrtValue value)
    {
        var info = value.GetTensorTypeAndShape();
        int[] shape = info.Shape.Select(d => (int)d).ToArray();
        long[] Longs<T>(Func<T, long> f) where T : unmanaged => value.GetTensorDataAsSpan<T>().ToArray().Select(f).ToArray();
        return info.ElementDataType switch
        {
            TensorElementType.Float => new Tensor(value.GetTensorDataAsSpan<float>().ToArray(), shape),
            TensorElementType.Double => Tensor.FromDoubles(value.GetTensorDataAsSpan<double>().ToArray(), shape),
            TensorElementType.Float16 => Tensor.FromFloats(
                value.GetTensorDataAsSpan<Float16>().ToArray().Select(h => (float)BitConverter.UInt16BitsToHalf(h.value)).ToArray(), DataType.Float16, shape),
            TensorElementType.BFloat16 => Tensor.FromFloats(

                value.GetTensorDataAsSpan<BFloat16>().ToArray().Select(b => BitConverter.UInt32BitsToSingle((uint)b.value << 16)).ToArray(),
                DataType.BFloat16, shape),
            TensorElementType.Int8 => Tensor.FromInt64s(Longs<sbyte>(v => v), DataType.Int8, shape),
            TensorElementType.Int16 => Tensor.FromInt64s(Longs<short>(v => v), DataType.Int16, shape),
            TensorElementType.Int32 => Tensor.FromInt64s(Longs<int>(v => v), DataType.Int32, shape),
            TensorElementType.Int64 => Tensor.FromInt64s(Longs<long>(v => v), DataType.Int64, shape),
            TensorElementType.UInt8 => Tensor.FromInt64s(Longs<byte>(v => v), DataType.UInt8, shape),
            TensorElementType.UInt16 => Tensor.FromInt64s(Longs<ushort>(v => v), DataType.UInt16, shape),
            TensorElementType.UInt32 => Tensor.FromInt64s(Longs<uint>(v => v), DataType.UInt32, shape),
            TensorElementType.UInt64 => Tensor.FromInt64s(Longs<ulong>(v => (long)v), DataType.UInt64, shape),
            TensorElementType.Bool => Tensor.FromInt64s(Longs<bool>(v => v ? 1 : 0), DataType.Bool, shape),
            var t => throw new NotSupportedException($"ONNX Runtime output of type {t}"),
        };
    }
}
