// A content hash of a model's weights, so a file derived from one model (a sensitivity report) can tell
// when it is handed another. It covers what the weights are — each initializer's name, element type, shape
// and values, in name order — and not how the file stores them, so the same model saved as .safetensors or
// .onnx, dense or sparse, gives the same fingerprint.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Condense.Graph;

/// <summary>SHA-256 over a model's initializers.</summary>
public static class ModelFingerprint
{
    /// <summary>The fingerprint of <paramref name="graph"/> as 64 lowercase hex digits.</summary>
    public static string Of(ModelGraph graph)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] number = new byte[8];
        void Int64(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(number, value);
            sha.AppendData(number);
        }
        foreach (var name in graph.Initializers.Keys.Order(StringComparer.Ordinal))
        {
            var tensor = graph.Initializers[name];
            // Lengths first, so no two different lists of (name, shape, values) hash the same bytes.
            byte[] utf8 = Encoding.UTF8.GetBytes(name);
            Int64(utf8.Length);
            sha.AppendData(utf8);
            Int64((long)graph.TypeOf(name));
            Int64(tensor.Shape.Length);
            foreach (int d in tensor.Shape) Int64(d);
            Int64(tensor.Data.Length);
            sha.AppendData(MemoryMarshal.AsBytes(tensor.Data.AsSpan()));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The fingerprint of a loaded model.</summary>
    public static string Of(GraphModule model) => Of(model.Graph);
}
