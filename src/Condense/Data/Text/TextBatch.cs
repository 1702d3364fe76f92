// One batch of tokenized passages and how it feeds a text model's inputs by their roles: token ids, attention mask,
// token types, positions (GPT-style decoders exported with position_ids) and an empty key/value cache (decoders exported
// "with past", as Optimum's text-generation-with-past writes them, whose first step reads a cache of length 0).
using Condense.Tensors;

namespace Condense.Data.Text;

/// <summary>A text model's input as <see cref="TextBatch"/> feeds it.</summary>
/// <param name="Name">The input's name, which says its role.</param>
/// <param name="Shape">Its declared shape (−1 where dynamic), or null when unknown: a key/value cache input needs it.</param>
/// <param name="Type">Its element type: ids, masks and positions are converted to it (TensorFlow exports take int32).</param>
public sealed record TextInput(string Name, int[]? Shape = null, DataType Type = DataType.Int64);

/// <summary>One batch of tokenized passages as int64 tensors [batch, length].</summary>
/// <param name="InputIds">The token ids, padded with the padding id.</param>
/// <param name="AttentionMask">1 for tokens, 0 for padding.</param>
/// <param name="TokenTypeIds">Zeros: one segment per passage.</param>
public sealed record TextBatch(Tensor InputIds, Tensor AttentionMask, Tensor TokenTypeIds)
{
    /// <summary>The passages in the batch.</summary>
    public int Count => InputIds.Shape[0];

    /// <summary>
    /// Each token's position: the count of real tokens before it (Hugging Face's cumsum(mask) − 1), 1 at padding, so that
    /// a passage padded on either side numbers its tokens from 0.
    /// </summary>
    public Tensor PositionIds()
    {
        int batch = InputIds.Shape[0], length = InputIds.Shape[1];
        var mask = AttentionMask.Int64Data;
        var positions = new long[batch * length];
        for (int b = 0; b < batch; b++)
        {
            long seen = 0;
            for (int t = 0; t < length; t++)
            {
                int i = b * length + t;
                seen += mask[i];
                positions[i] = mask[i] == 0 ? 1 : seen - 1;
            }
        }
        return Tensor.FromInt64s(positions, DataType.Int64, batch, length);
    }

    /// <summary>
    /// The batch as a model's named inputs: each is fed by its role — ids (input_ids, ids), mask (attention_mask,
    /// input_mask, mask), token types (token_type_ids, segment_ids) or positions (position_ids); any other input is an
    /// error. A key/value cache input (past_key_values.N.key, past.N) needs its declared shape: use the other overload.
    /// </summary>
    public Dictionary<string, Tensor> Feed(IEnumerable<string> inputNames) => Feed(inputNames.Select(n => new TextInput(n)));

    /// <summary>
    /// The batch as a model's inputs, given with their declared shapes and types: as the other overload, in each input's
    /// integer type, and a key/value cache input (a name that starts with "past") gets an empty cache — its first dynamic
    /// dimension is the batch, every other dynamic dimension (the cached length) 0.
    /// </summary>
    public Dictionary<string, Tensor> Feed(IEnumerable<TextInput> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var feed = new Dictionary<string, Tensor>();
        foreach (var (name, shape, type) in inputs)
        {
            string key = name.ToLowerInvariant();
            if (key.StartsWith("past", StringComparison.Ordinal))
            {
                var cache = EmptyCache(name, shape);
                feed[name] = type == DataType.Int64 || type == cache.DataType ? cache : TypedOps.Cast(cache, type);
                continue;
            }
            var value = key.Contains("mask", StringComparison.Ordinal) ? AttentionMask
                : key.Contains("position", StringComparison.Ordinal) ? PositionIds()
                : key.Contains("type", StringComparison.Ordinal) || key.Contains("segment", StringComparison.Ordinal) ? TokenTypeIds
                : key.Contains("id", StringComparison.Ordinal) ? InputIds
                : throw new CondenseException($"the model's input '{name}' is not token ids, an attention mask, token types, positions or "
                    + "a key/value cache; text feeds input_ids, attention_mask, token_type_ids, position_ids and past_key_values");
            feed[name] = type == DataType.Int64 ? value : TypedOps.Cast(value, type);
        }
        return feed;
    }

    private Tensor EmptyCache(string name, int[]? shape)
    {
        if (shape is null || shape.Length == 0)
            throw new CondenseException($"the model's input '{name}' looks like a key/value cache but declares no shape to feed an empty one");
        var dims = new int[shape.Length];
        bool batchSeen = false;
        for (int k = 0; k < shape.Length; k++)
        {
            dims[k] = shape[k] >= 0 ? shape[k] : batchSeen ? 0 : Count;
            batchSeen |= shape[k] < 0;
        }
        return Tensor.Zeros(dims);
    }
}
