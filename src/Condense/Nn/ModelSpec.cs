// Short model descriptions for the CLI: "mlp:784-128-10" is Flatten → Linear(784,128) → ReLU →
// Linear(128,10). Options follow after commas: "mlp:784-1200-1200-10,dropout=0.5,input-dropout=0.2,act=tanh".
using System.Globalization;
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>The activation between layers of an MLP.</summary>
public enum Activation { Relu, Tanh, Sigmoid }

/// <summary>A parsed model specification that builds a seeded model.</summary>
public sealed record ModelSpec(int[] Sizes, float Dropout = 0f, float InputDropout = 0f, Activation Activation = Activation.Relu)
{
    /// <summary>The default model: the 784-128-10 MLP.</summary>
    public const string Default = "mlp:784-128-10";

    /// <summary>Parses a spec such as <c>mlp:784-300-100-10,dropout=0.5</c>.</summary>
    public static ModelSpec Parse(string spec)
    {
        const string usage = "expected e.g. 'mlp:784-128-10' or 'mlp:784-300-100-10,dropout=0.5,act=relu'";
        var parts = spec.Trim().Split(',', StringSplitOptions.TrimEntries);
        var head = parts[0].Split(':', 2);
        if (head.Length != 2 || !head[0].Equals("mlp", StringComparison.OrdinalIgnoreCase))
            throw new CondenseException($"unknown model spec '{spec}': {usage}");
        var sizes = head[1].Split('-').Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : -1).ToArray();
        if (sizes.Length < 2 || sizes.Any(s => s <= 0))
            throw new CondenseException($"bad layer sizes in model spec '{spec}': {usage}");
        var result = new ModelSpec(sizes);
        foreach (var option in parts.Skip(1))
        {
            var kv = option.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2) throw new CondenseException($"bad option '{option}' in model spec '{spec}': {usage}");
            result = kv[0].ToLowerInvariant() switch
            {
                "dropout" => result with { Dropout = Probability(kv[1], spec) },
                "input-dropout" => result with { InputDropout = Probability(kv[1], spec) },
                "act" => result with
                {
                    Activation = Enum.TryParse<Activation>(kv[1], ignoreCase: true, out var a) ? a
                        : throw new CondenseException($"unknown activation '{kv[1]}' in model spec '{spec}' (relu, tanh, sigmoid)"),
                },
                _ => throw new CondenseException($"unknown option '{kv[0]}' in model spec '{spec}' (dropout, input-dropout, act)"),
            };
        }
        return result;
    }

    private static float Probability(string text, string spec) =>
        float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float p) && p >= 0f && p < 1f ? p
            : throw new CondenseException($"dropout must be in [0, 1), got '{text}' in model spec '{spec}'");

    /// <summary>Input features.</summary>
    public int InFeatures => Sizes[0];

    /// <summary>Number of classes.</summary>
    public int OutFeatures => Sizes[^1];

    /// <summary>Builds the model; the same seed always gives the same initial weights.</summary>
    public Sequential Build(ulong seed = 0)
    {
        var rng = new Rng(seed);
        var model = new Sequential(new Flatten());
        if (InputDropout > 0f) model.Append(new Dropout(InputDropout, rng.NextUInt64()));
        for (int i = 0; i + 1 < Sizes.Length; i++)
        {
            model.Append(new Linear(Sizes[i], Sizes[i + 1], rng: rng));
            if (i + 2 == Sizes.Length) break;
            model.Append(Activation switch { Activation.Tanh => new Tanh(), Activation.Sigmoid => new Sigmoid(), _ => new ReLU() });
            if (Dropout > 0f) model.Append(new Dropout(Dropout, rng.NextUInt64()));
        }
        return model;
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var s = "mlp:" + string.Join('-', Sizes);
        if (Dropout > 0f) s += ",dropout=" + Dropout.ToString(CultureInfo.InvariantCulture);
        if (InputDropout > 0f) s += ",input-dropout=" + InputDropout.ToString(CultureInfo.InvariantCulture);
        if (Activation != Activation.Relu) s += ",act=" + Activation.ToString().ToLowerInvariant();
        return s;
    }
}
