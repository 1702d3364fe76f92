// Short model descriptions for the CLI. "mlp:784-128-10" is Flatten → Linear(784,128) → ReLU →
// Linear(128,10); options follow after commas: "mlp:784-1200-1200-10,dropout=0.5,input-dropout=0.2,act=tanh".
// Convolutional models are named: "lenet5" (LeCun et al. 1998, with ReLU and max-pooling as in PyTorch's
// examples) and "resnet-mini" (He et al. 2016, three stages of one basic block, 16/32/64 channels); both take
// "input=CxHxW" (default 1x28x28, MNIST) and "classes=N" (default 10), and resnet-mini takes "width=W".
using System.Globalization;
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>The activation between layers of an MLP.</summary>
public enum Activation { Relu, Tanh, Sigmoid }

/// <summary>The family of a model spec.</summary>
public enum ModelKind { Mlp, LeNet5, ResNetMini }

/// <summary>A parsed model specification that builds a seeded model.</summary>
/// <param name="Sizes">Layer widths of an MLP from input features to classes; for conv models (features, classes).</param>
/// <param name="Dropout">MLP: dropout after each hidden activation.</param>
/// <param name="InputDropout">MLP: dropout on the input.</param>
/// <param name="Activation">MLP: the hidden activation.</param>
public sealed record ModelSpec(int[] Sizes, float Dropout = 0f, float InputDropout = 0f, Activation Activation = Activation.Relu)
{
    /// <summary>The default model: the 784-128-10 MLP.</summary>
    public const string Default = "mlp:784-128-10";

    private const string Usage = "expected e.g. 'mlp:784-128-10', 'mlp:784-300-100-10,dropout=0.5,act=relu', 'lenet5' or 'resnet-mini,width=16'";

    /// <summary>The model family.</summary>
    public ModelKind Kind { get; init; } = ModelKind.Mlp;

    /// <summary>The shape of one input image (channels, height, width) of a conv model; MNIST's (1, 28, 28) by default.</summary>
    public int[] ImageShape { get; init; } = [1, 28, 28];

    /// <summary>Channels of resnet-mini's first stage (doubled at each of the next two).</summary>
    public int Width { get; init; } = 16;

    /// <summary>Parses a spec such as <c>mlp:784-300-100-10,dropout=0.5</c> or <c>lenet5</c>.</summary>
    public static ModelSpec Parse(string spec)
    {
        var parts = spec.Trim().Split(',', StringSplitOptions.TrimEntries);
        var head = parts[0].Split(':', 2);
        var result = head[0].ToLowerInvariant() switch
        {
            "mlp" when head.Length == 2 => new ModelSpec(ParseSizes(head[1], spec)),
            "lenet5" or "lenet-5" when head.Length == 1 => new ModelSpec([784, 10]) { Kind = ModelKind.LeNet5 },
            "resnet-mini" when head.Length == 1 => new ModelSpec([784, 10]) { Kind = ModelKind.ResNetMini },
            _ => throw new CondenseException($"unknown model spec '{spec}': {Usage}"),
        };
        foreach (var option in parts.Skip(1))
        {
            var kv = option.Split('=', 2, StringSplitOptions.TrimEntries);
            if (kv.Length != 2) throw new CondenseException($"bad option '{option}' in model spec '{spec}': {Usage}");
            result = result.WithOption(kv[0].ToLowerInvariant(), kv[1], spec);
        }
        return result;
    }

    private ModelSpec WithOption(string key, string value, string spec) => (Kind, key) switch
    {
        (ModelKind.Mlp, "dropout") => this with { Dropout = Probability(value, spec) },
        (ModelKind.Mlp, "input-dropout") => this with { InputDropout = Probability(value, spec) },
        (ModelKind.Mlp, "act") => this with
        {
            Activation = Enum.TryParse<Activation>(value, ignoreCase: true, out var a) && Enum.IsDefined(a) ? a
                : throw new CondenseException($"unknown activation '{value}' in model spec '{spec}' (relu, tanh, sigmoid)"),
        },
        (not ModelKind.Mlp, "input") => WithImage(ParseImage(value, spec), spec),
        (not ModelKind.Mlp, "classes") => this with { Sizes = [Sizes[0], PositiveInt(value, "classes", spec)] },
        (ModelKind.ResNetMini, "width") => this with { Width = PositiveInt(value, "width", spec) },
        _ => throw new CondenseException($"unknown option '{key}' in model spec '{spec}' ({OptionNames})"),
    };

    private string OptionNames => Kind switch
    {
        ModelKind.Mlp => "dropout, input-dropout, act",
        ModelKind.LeNet5 => "input, classes",
        _ => "input, classes, width",
    };

    private ModelSpec WithImage(int[] image, string spec)
    {
        // LeNet-5's two 5×5 convs and two 2×2 pools need at least a 12×12 image (then fc1 sees 16×1×1).
        if (Kind == ModelKind.LeNet5 && (image[1] < 12 || image[2] < 12))
            throw new CondenseException($"lenet5 needs images of at least 12x12, got input={Shape.Format(image)} in model spec '{spec}'");
        return this with { ImageShape = image, Sizes = [Shape.Size(image), Sizes[^1]] };
    }

    private static int[] ParseSizes(string text, string spec)
    {
        var sizes = text.Split('-').Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : -1).ToArray();
        if (sizes.Length < 2 || sizes.Any(s => s <= 0))
            throw new CondenseException($"bad layer sizes in model spec '{spec}': {Usage}");
        return sizes;
    }

    private static int[] ParseImage(string text, string spec)
    {
        var dims = text.Split('x').Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : -1).ToArray();
        if (dims.Length != 3 || dims.Any(d => d <= 0))
            throw new CondenseException($"bad input shape '{text}' in model spec '{spec}': expected CxHxW, e.g. input=1x28x28");
        return dims;
    }

    private static int PositiveInt(string text, string name, string spec) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v
            : throw new CondenseException($"{name} must be a positive integer, got '{text}' in model spec '{spec}'");

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
        return Kind switch
        {
            ModelKind.LeNet5 => BuildLeNet5(rng),
            ModelKind.ResNetMini => BuildResNetMini(rng),
            _ => BuildMlp(rng),
        };
    }

    private Sequential BuildMlp(Rng rng)
    {
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

    // conv 1→6 5×5 pad 2, ReLU, max-pool 2, conv 6→16 5×5, ReLU, max-pool 2, fc 400-120-84-10 (for 28×28).
    private Sequential BuildLeNet5(Rng rng)
    {
        int c = ImageShape[0], h = (ImageShape[1] / 2 - 4) / 2, w = (ImageShape[2] / 2 - 4) / 2;
        return new Sequential(
            new Unflatten(ImageShape),
            new Conv2d(c, 6, 5, padding: 2, rng: rng), new ReLU(), new MaxPool2d(2),
            new Conv2d(6, 16, 5, rng: rng), new ReLU(), new MaxPool2d(2),
            new Flatten(),
            new Linear(16 * h * w, 120, rng: rng), new ReLU(),
            new Linear(120, 84, rng: rng), new ReLU(),
            new Linear(84, OutFeatures, rng: rng));
    }

    // A 3×3 stem, then stages of Width, 2·Width, 4·Width channels (the last two halve the resolution),
    // global average pooling and one Linear: a CIFAR-style ResNet (He et al. 2016, §4.2) with one block a stage.
    private Sequential BuildResNetMini(Rng rng) => new(
        new Unflatten(ImageShape),
        new Conv2d(ImageShape[0], Width, 3, padding: 1, bias: false, rng: rng), new BatchNorm2d(Width), new ReLU(),
        new ResidualBlock(Width, Width, 1, rng),
        new ResidualBlock(Width, 2 * Width, 2, rng),
        new ResidualBlock(2 * Width, 4 * Width, 2, rng),
        new GlobalAvgPool2d(), new Flatten(),
        new Linear(4 * Width, OutFeatures, rng: rng));

    /// <inheritdoc />
    public override string ToString()
    {
        string s = Kind switch
        {
            ModelKind.LeNet5 => "lenet5",
            ModelKind.ResNetMini => "resnet-mini",
            _ => "mlp:" + string.Join('-', Sizes),
        };
        if (Kind != ModelKind.Mlp)
        {
            if (!ImageShape.SequenceEqual([1, 28, 28])) s += ",input=" + string.Join('x', ImageShape);
            if (OutFeatures != 10) s += ",classes=" + OutFeatures.ToString(CultureInfo.InvariantCulture);
            if (Kind == ModelKind.ResNetMini && Width != 16) s += ",width=" + Width.ToString(CultureInfo.InvariantCulture);
            return s;
        }
        if (Dropout > 0f) s += ",dropout=" + Dropout.ToString(CultureInfo.InvariantCulture);
        if (InputDropout > 0f) s += ",input-dropout=" + InputDropout.ToString(CultureInfo.InvariantCulture);
        if (Activation != Activation.Relu) s += ",act=" + Activation.ToString().ToLowerInvariant();
        return s;
    }
}
