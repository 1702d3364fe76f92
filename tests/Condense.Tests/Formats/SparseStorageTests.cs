// Sparse storage: every form round-trips exactly, the smallest form is chosen, the file shrinks with
// sparsity, and corrupt sparse parts give one-line errors naming the file.
using Condense.Formats;
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Formats;

public sealed class SparseStorageTests : IDisposable
{
    private readonly ScratchDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static Tensor Sparse(ulong seed, double sparsity, params int[] shape)
    {
        var rng = new Rng(seed);
        var t = Tensor.Uniform(rng, -1f, 1f, shape);
        for (int i = 0; i < t.Size; i++) if (rng.NextDouble() < sparsity) t.Data[i] = 0f;
        return t;
    }

    private SafeTensorFile RoundTrip(Dictionary<string, Tensor> tensors, out Dictionary<string, Tensor> decoded)
    {
        var (entries, metadata) = SparseStorage.Encode(tensors);
        string path = _dir.File("t.safetensors");
        SafeTensors.Write(path, entries, metadata);
        var file = SafeTensors.Read(path);
        decoded = SparseStorage.Decode(file);
        return file;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    [InlineData(1.0)]
    public void EveryFormRoundTripsExactly(double sparsity)
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["w"] = Sparse(1, sparsity, 300, 784),
            ["ragged"] = Sparse(2, sparsity, 7, 33),
            ["vector"] = Sparse(3, sparsity, 101),
            ["wide"] = Sparse(4, sparsity, 1, 70_000), // column indices beyond 16 bits
            ["scalar"] = Tensor.Scalar(sparsity == 1.0 ? 0f : 2.5f),
        };
        RoundTrip(tensors, out var decoded);
        Assert.Equal(tensors.Keys.Order(), decoded.Keys.Order());
        foreach (var (name, t) in tensors)
        {
            Assert.Equal(t.Shape, decoded[name].Shape);
            Assert.Equal(t.Data, decoded[name].Data);
        }
    }

    [Fact]
    public void TheSmallestFormIsChosen()
    {
        var tensors = new Dictionary<string, Tensor>
        {
            ["dense"] = Sparse(5, 0.0, 100, 100),   // 40,000 B dense beats any sparse form
            ["half"] = Sparse(6, 0.5, 100, 100),    // bitmap: 1,250 + ~20,000 B
            ["sparse"] = Sparse(7, 0.98, 100, 100), // CSR: ~200 × 6 + 404 B
        };
        var file = RoundTrip(tensors, out _);
        var names = file.Tensors.Select(t => t.Name).ToHashSet();
        Assert.Contains("dense", names);
        Assert.Contains("half.__bitmap", names);
        Assert.Contains("sparse.__csr_values", names);
        Assert.Equal(SafeTensorDType.U16, file["sparse.__csr_indices"].DType);
    }

    [Fact]
    public void ModelFileShrinksWithSparsity()
    {
        long Size(double sparsity)
        {
            var model = ModelSpec.Parse("mlp:784-300-100-10").Build(1);
            foreach (var p in model.Parameters().Where(p => p.Rank == 2))
            {
                var mask = Condense.Pruning.Masks.Magnitude(p.Data, sparsity);
                for (int i = 0; i < p.Size; i++) p.Data[i] *= mask[i];
            }
            string path = _dir.File($"m{sparsity}.safetensors");
            Checkpoint.Save(model, path, [784]);
            var loaded = Checkpoint.Load(path);
            foreach (var (name, t) in model.StateDict()) Assert.Equal(t.Data, loaded.StateDict()[name].Data);
            return new FileInfo(path).Length;
        }
        long dense = Size(0), half = Size(0.5), ninety = Size(0.9), most = Size(0.98);
        Assert.True(half < 0.6 * dense, $"{half} vs {dense}");
        Assert.True(ninety < 0.16 * dense, $"{ninety} vs {dense}");
        Assert.True(most < 0.07 * dense, $"{most} vs {dense}");
    }

    [Fact]
    public void CorruptSparsePartsAreOneLineErrors()
    {
        var (entries, metadata) = SparseStorage.Encode(new Dictionary<string, Tensor> { ["w"] = Sparse(8, 0.98, 100, 100) });
        void Expect(IEnumerable<SafeTensorEntry> parts, string fragment)
        {
            string path = _dir.File("bad.safetensors");
            SafeTensors.Write(path, parts, metadata);
            var e = Assert.Throws<InvalidFileException>(() => SparseStorage.Decode(SafeTensors.Read(path)));
            Assert.Contains("bad.safetensors", e.Message);
            Assert.Contains(fragment, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        Expect(entries.Where(e => e.Name != "w.__csr_rows"), "missing");
        var badIndex = entries.Select(e => e.Name == "w.__csr_indices"
            ? SafeTensorEntry.FromBytes(e.Name, SafeTensorDType.U16, e.Shape, e.Data.Select((b, i) => i == 1 ? (byte)0xFF : b).ToArray()) : e);
        Expect(badIndex, "column index");
    }
}
