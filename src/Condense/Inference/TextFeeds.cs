// A text model's inputs with their declared shapes, which a key/value cache input needs to be fed empty (TextBatch.Feed).
using Condense.Data.Text;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>Feeds tokenized batches to a text model's inputs.</summary>
public static class TextFeeds
{
    /// <summary>The inputs of <paramref name="graph"/> as <see cref="TextBatch.Feed(IEnumerable{ValueTuple{string, int[]}})"/> takes them.</summary>
    public static IReadOnlyList<(string Name, int[]? Shape)> Inputs(ModelGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return [.. graph.Inputs.Select(i => (i.Name, (int[]?)i.Shape))];
    }

    /// <summary><paramref name="batch"/> as the named inputs of <paramref name="graph"/>.</summary>
    public static Dictionary<string, Tensor> Feed(this TextBatch batch, ModelGraph graph)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Feed(Inputs(graph));
    }
}
