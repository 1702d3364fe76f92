// A text model's inputs with their declared shapes, which a key/value cache input needs to be fed empty, and types (TextBatch.Feed).
using Condense.Data.Text;
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>Feeds tokenized batches to a text model's inputs.</summary>
public static class TextFeeds
{
    /// <summary>
    /// The inputs of <paramref name="graph"/> with their declared shapes and types, as <see cref="TextBatch.Feed(IEnumerable{TextInput})"/>
    /// takes them.
    /// </summary>
    public static IReadOnlyList<TextInput> Inputs(ModelGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        return [.. graph.Inputs.Select(i => new TextInput(i.Name, i.Shape, DataTypes.FromOnnxName(i.DataType) ?? DataType.Int64))];
    }

    /// <summary><paramref name="batch"/> as the named inputs of <paramref name="graph"/>.</summary>
    public static Dictionary<string, Tensor> Feed(this TextBatch batch, ModelGraph graph)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return batch.Feed(Inputs(graph));
    }
}
