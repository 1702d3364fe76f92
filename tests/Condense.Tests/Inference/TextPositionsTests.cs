// The longest passage a text model takes, measured by running it: the PyTorch fixtures' position tables say what it must
// be — 64 rows read from position 0 (the GPT-style decoder), 64 rows read from position 2 (the MPNet-style encoder, whose
// positions start after its padding id 1, as RoBERTa's do: 62 tokens) — and a model with more positions than asked for
// gives what was asked.
using Condense.Data.Text;
using Condense.Formats;
using Condense.Inference;
using Condense.Tests.Transformers;

namespace Condense.Tests.Inference;

public sealed class TextPositionsTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", name);

    [Fact]
    public void TheLimitIsThePositionTablesReach()
    {
        var decoder = ModelFile.Load(DecoderWithPastTests.Fixture("decoder-past-op14.onnx"));
        var bpe = DecoderWithPastTests.Tokenizer();
        Assert.Equal(64, TextPositions.Limit(decoder, bpe, 128));
        Assert.Equal(40, TextPositions.Limit(decoder, bpe, 40));

        var encoder = ModelFile.Load(Fixture("relbias-op14.onnx"));
        var words = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the" };
        var wordPiece = TextTokenizer.FromText(string.Join('\n', words), "vocab.txt");
        Assert.Equal(62, TextPositions.Limit(encoder, wordPiece, 128));

        // Cut there, a long passage runs; one token more does not.
        wordPiece.PositionLimit = 62;
        var ids = wordPiece.Encode(string.Join(' ', Enumerable.Repeat("the", 100)), 128);
        Assert.Equal(62, ids.Length);
        encoder.Run(wordPiece.BatchEncoded([ids]).Feed(encoder.Graph));
        Assert.Equal(62, wordPiece.BatchEncoded([ids], padTo: 128).InputIds.Shape[1]);
        wordPiece.PositionLimit = null;
        var longer = wordPiece.Encode(string.Join(' ', Enumerable.Repeat("the", 100)), 63);
        Assert.Throws<CondenseException>(() => encoder.Run(wordPiece.BatchEncoded([longer]).Feed(encoder.Graph)));
    }
}
