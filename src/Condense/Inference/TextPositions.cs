// How many tokens a text model can take. Transformers learn one embedding per position, so a passage longer than the
// position table fails in a Gather; the table's size is not stated in the graph in any one way (a constant position-id
// buffer sliced by the length, a Range, ids computed from the mask as RoBERTa and MPNet do, an offset of 2 for RoBERTa's
// padding), so it is measured: the longest sequence the model runs.
using Condense.Autograd;
using Condense.Data.Text;
using Condense.Graph;

namespace Condense.Inference;

/// <summary>The longest passage a text model takes.</summary>
public static class TextPositions
{
    /// <summary>
    /// <paramref name="wanted"/> when <paramref name="model"/> runs a passage of that many tokens, else the largest length it
    /// runs (found by bisection, about log₂ <paramref name="wanted"/> runs of one passage). When it runs no passage at all,
    /// <paramref name="wanted"/>: the failure is not about length, and the first real batch reports it.
    /// </summary>
    public static int Limit(GraphModule model, TextTokenizer tokenizer, int wanted)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        int shortest = tokenizer.FramingTokens + 1;
        if (wanted <= shortest || Runs(model, tokenizer, wanted)) return wanted;
        if (!Runs(model, tokenizer, shortest)) return wanted;
        int low = shortest, high = wanted; // runs at low, fails at high
        while (high - low > 1)
        {
            int middle = low + (high - low) / 2;
            if (Runs(model, tokenizer, middle)) low = middle;
            else high = middle;
        }
        return low;
    }

    // One passage of `length` tokens (an ordinary word's repeated within its framing) runs without an error.
    private static bool Runs(GraphModule model, TextTokenizer tokenizer, int length)
    {
        var ids = tokenizer.Encode(string.Join(' ', Enumerable.Repeat("the", length)), length);
        var feed = tokenizer.BatchEncoded([ids]).Feed(model.Graph);
        bool training = model.Training;
        model.Eval();
        try
        {
            using (GradMode.NoGrad()) model.Run(feed);
            return true;
        }
        catch (CondenseException) { return false; }
        finally { model.Train(training); }
    }
}
