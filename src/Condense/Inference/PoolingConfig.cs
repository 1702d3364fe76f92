// How a sentence-transformers model pools its token states, as its folder states it: `1_Pooling/config.json`
// (pooling_mode_cls_token, pooling_mode_mean_tokens, …), beside the ONNX file or one folder up, where Hugging Face
// repositories keep `onnx/model.onnx`. BGE models pool by [CLS], most others by the mean; measuring or distilling a
// CLS-pooled model by its mean-pooled states fits the wrong vector. A model Condense saves carries the pooling in its
// metadata, as it carries its vocabulary.
using System.Text.Json;

namespace Condense.Inference;

/// <summary>What a model's folder or metadata says of its pooling.</summary>
/// <param name="Pooling">The pooling, or null when the stated mode is one Condense does not compute.</param>
/// <param name="Mode">The mode as stated (cls, mean, max, mean_sqrt_len, weightedmean, lasttoken).</param>
/// <param name="Source">Where it was read: the config file, or "model metadata".</param>
public sealed record StatedPooling(Pooling? Pooling, string Mode, string Source);

/// <summary>Reads the pooling that a sentence-transformers folder or a saved model states.</summary>
public static class PoolingConfig
{
    /// <summary>The metadata key a saved model carries its pooling under.</summary>
    public const string MetadataKey = "condense.pooling";

    private static readonly (string Key, string Mode)[] Modes =
    [
        ("pooling_mode_cls_token", "cls"), ("pooling_mode_mean_tokens", "mean"), ("pooling_mode_max_tokens", "max"),
        ("pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"), ("pooling_mode_weightedmean_tokens", "weightedmean"),
        ("pooling_mode_lasttoken", "lasttoken"),
    ];

    /// <summary>
    /// The pooling <paramref name="metadata"/> carries, else the one `1_Pooling/config.json` beside <paramref name="modelPath"/>
    /// or one folder up states; null when neither says. A config that is not JSON, or that sets no mode or several, is a
    /// one-line error.
    /// </summary>
    public static StatedPooling? Of(string modelPath, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        if (metadata.TryGetValue(MetadataKey, out var carried)) return new(Parse(carried), carried, "model metadata");
        var folder = Path.GetDirectoryName(Path.GetFullPath(modelPath));
        foreach (var dir in new[] { folder, Path.GetDirectoryName(folder) })
        {
            if (dir is null) continue;
            string config = Path.Combine(dir, "1_Pooling", "config.json");
            if (File.Exists(config)) return Read(config);
        }
        return null;
    }

    /// <summary>Writes <paramref name="pooling"/> into a model's <paramref name="metadata"/>.</summary>
    public static void CarryInto(IDictionary<string, string> metadata, Pooling pooling)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        metadata[MetadataKey] = pooling.ToString().ToLowerInvariant();
    }

    private static StatedPooling Read(string config)
    {
        List<string> modes;
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(config));
            modes = [.. Modes.Where(m => json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty(m.Key, out var v) && v.ValueKind == JsonValueKind.True).Select(m => m.Mode)];
        }
        catch (JsonException e) { throw new InvalidFileException(config, $"not a sentence-transformers pooling config: {e.Message}"); }
        if (modes.Count != 1)
            throw new InvalidFileException(config, modes.Count == 0 ? "no pooling mode is set" : $"several pooling modes are set ({string.Join(", ", modes)})");
        return new(Parse(modes[0]), modes[0], config);
    }

    private static Pooling? Parse(string mode) => mode switch { "cls" => Pooling.Cls, "mean" => Pooling.Mean, "none" => Pooling.None, _ => null };
}
