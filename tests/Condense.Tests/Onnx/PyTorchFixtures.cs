// The models PyTorch exported into Fixtures/onnx (each with its export script): loaded, and checked against the output
// PyTorch itself computed, before a test changes them.
using Condense.Data;
using Condense.Formats;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Tests.Onnx;

internal static class PyTorchFixtures
{
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    /// <summary>The ids and mask the transformer fixtures were exported with (encoder.input_ids.npy, encoder.attention_mask.npy).</summary>
    public static Dictionary<string, Tensor> EncoderFeed()
    {
        Tensor Int64(string name)
        {
            var array = Npy.Read(Path(name));
            return Tensor.FromInt64s(Array.ConvertAll(array.ToFloat(), v => (long)v), DataType.Int64, array.Shape);
        }
        return new() { ["input_ids"] = Int64("encoder.input_ids.npy"), ["attention_mask"] = Int64("encoder.attention_mask.npy") };
    }

    /// <summary>The model <paramref name="model"/>, whose output by <paramref name="run"/> is PyTorch's <paramref name="expected"/>.</summary>
    public static GraphModule Load(string model, string expected, Func<GraphModule, Tensor> run, float tolerance)
    {
        var loaded = ModelFile.Load(Path(model));
        var pytorch = Npy.Read(Path(expected));
        Graph.TensorAsserts.Close(new Tensor(pytorch.ToFloat(), pytorch.Shape), run(loaded), tolerance);
        return loaded;
    }
}
