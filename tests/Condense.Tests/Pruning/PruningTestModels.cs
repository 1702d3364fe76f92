// Shared helpers of the pruning tests: small seeded models as graph modules, hand-set weights,
// counting zeros, and comparing weights bit for bit.
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Tests.Pruning;

internal static class PruningTestModels
{
    /// <summary>A graph module sharing tensors with a freshly built, seeded MLP.</summary>
    public static GraphModule Mlp(string spec = "mlp:784-30-20-10", ulong seed = 1)
    {
        var parsed = ModelSpec.Parse(spec);
        return new GraphModule(GraphTracer.Trace(parsed.Build(seed), [parsed.InFeatures]));
    }

    /// <summary>A graph module built from explicit layers (e.g. to put a Sigmoid between two linears).</summary>
    public static GraphModule From(Module module, int inFeatures) => new(GraphTracer.Trace(module, [inFeatures]));

    public static Parameter Param(GraphModule model, string name) =>
        model.NamedParameters().Single(p => p.Name == name).Parameter;

    public static void SetData(GraphModule model, string name, float[] values)
    {
        var p = Param(model, name);
        Assert.Equal(p.Size, values.Length);
        values.CopyTo(p.Data, 0);
        p.MarkModified();
    }

    public static Dictionary<string, float[]> Snapshot(GraphModule model) =>
        model.NamedParameters().ToDictionary(p => p.Name, p => (float[])p.Parameter.Data.Clone());

    public static long Zeros(ReadOnlySpan<float> data)
    {
        long n = 0;
        foreach (float v in data) if (v == 0f) n++;
        return n;
    }

    public static long Expected(double sparsity, long n) => (long)Math.Round(sparsity * n, MidpointRounding.AwayFromZero);

    /// <summary>Bit-level equality, so -0f differs from 0f and NaN equals itself.</summary>
    public static void AssertBitEqual(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
    }

    /// <summary>Random values with many distinct magnitudes, some exact ties and zeros.</summary>
    public static float[] RaggedWeights(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var w = new float[n];
        for (int i = 0; i < n; i++) w[i] = rng.NextNormal();
        // A few ties and zeros on purpose: every 11th value repeats the one before with the other sign.
        for (int i = 1; i < n; i += 11) w[i] = -w[i - 1];
        for (int i = 5; i < n; i += 37) w[i] = 0f;
        return w;
    }

    /// <summary>A batch of inputs drawn from U(-1, 1).</summary>
    public static Tensor RandomInput(int batch, int features, ulong seed) => Tensor.Uniform(new Rng(seed), -1f, 1f, batch, features);
}

/// <summary>A small MLP trained briefly on the embedded MNIST subset, shared by the slower tests; clone before changing.</summary>
internal static class TrainedMlp
{
    private static readonly Lazy<(Condense.Graph.ModelGraph Graph, Condense.Data.Dataset Train, Condense.Data.Dataset Test)> s_model = new(() =>
    {
        var (train, test) = Condense.Data.Mnist.LoadEmbedded();
        var model = PruningTestModels.Mlp("mlp:784-32-10", seed: 7);
        var small = train.Take(600);
        Condense.Training.Trainer.Fit(model, small, null, new Condense.Training.TrainOptions { Epochs = 2, Seed = 7 });
        return (model.Graph, small, test.Take(300));
    });

    public static Condense.Graph.GraphModule Fresh() => new(s_model.Value.Graph.Clone());
    public static Condense.Data.Dataset Train => s_model.Value.Train;
    public static Condense.Data.Dataset Test => s_model.Value.Test;
}
