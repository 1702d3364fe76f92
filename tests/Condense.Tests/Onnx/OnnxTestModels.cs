// Builds small ONNX models in memory with OnnxSharp's protobuf types and runs them with ONNX Runtime,
// the oracle for the importer's op tests.
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace Condense.Tests.Onnx;

internal static class OnnxTestModels
{
    public static ValueInfoProto Value(string name, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } };
    }

    public static TensorProto Floats(string name, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = 1 };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        return t;
    }

    public static TensorProto Longs(string name, long[] values, params long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = 7 };
        t.Dims.AddRange(dims);
        t.RawData = ByteString.CopyFrom(values.SelectMany(BitConverter.GetBytes).ToArray());
        return t;
    }

    public static NodeProto Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = $"/{op}_{output}" };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        n.Attribute.AddRange(attributes);
        return n;
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto TensorValue(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

    public static ModelProto Model(IEnumerable<NodeProto> nodes, ValueInfoProto input, ValueInfoProto output,
        IEnumerable<TensorProto>? initializers = null, long opset = 13)
    {
        var graph = new GraphProto { Name = "test" };
        graph.Node.AddRange(nodes);
        graph.Input.Add(input);
        graph.Output.Add(output);
        if (initializers is not null) graph.Initializer.AddRange(initializers);
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Condense.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }

    public static string Save(ModelProto model, string name)
    {
        string path = Path.Combine(Path.GetTempPath(), $"condense-{Guid.NewGuid():N}-{name}.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    /// <summary>ONNX Runtime's output 0 for one float input.</summary>
    public static float[] RunOrt(ModelProto model, float[] input, int[] shape)
    {
        using var session = new InferenceSession(model.ToByteArray());
        var value = NamedOnnxValue.CreateFromTensor(model.Graph.Input[0].Name, new DenseTensor<float>(input, shape));
        using var results = session.Run([value]);
        return results.First().AsEnumerable<float>().ToArray();
    }

    /// <summary>
    /// Accuracy of an ONNX model run by ONNX Runtime on every sample of <paramref name="data"/> in one batch,
    /// the rows shaped to the model's declared input (N×784, N×1×28×28, …).
    /// </summary>
    public static double OrtAccuracy(byte[] onnx, Condense.Data.Dataset data)
    {
        using var session = new InferenceSession(onnx);
        var indices = Enumerable.Range(0, data.Count).ToArray();
        int[] shape = [data.Count, .. session.InputMetadata.Values.Single().Dimensions[1..]];
        var input = NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), new DenseTensor<float>(data.Batch(indices).Data, shape));
        using var results = session.Run([input]);
        var logits = results.First().AsEnumerable<float>().ToArray();
        int classes = logits.Length / data.Count, correct = 0;
        var labels = data.BatchLabels(indices);
        for (int i = 0; i < data.Count; i++)
        {
            var row = logits.AsSpan(i * classes, classes);
            if (row.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(row)) == labels[i]) correct++;
        }
        return correct / (double)data.Count;
    }

    /// <summary>The same for a model file.</summary>
    public static double OrtAccuracy(string onnxPath, Condense.Data.Dataset data) => OrtAccuracy(File.ReadAllBytes(onnxPath), data);
}
