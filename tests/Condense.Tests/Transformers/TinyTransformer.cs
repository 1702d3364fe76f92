// Small transformers written as ONNX graphs the way torch.onnx.export writes them, at a chosen opset: token and
// position embeddings (Gather; positions from Shape → Gather → Range), one block of multi-head self-attention
// (MatMul, Split, Reshape to heads through shape arithmetic, Transpose, scaled scores, a mask, Softmax) and an MLP
// with exact GELU (Erf), layer norms (LayerNormalization from opset 17, decomposed into ReduceMean/Sub/Pow/Sqrt/Div
// before). Decoder: a causal mask (Trilu from opset 14, Range/Less before) and next-token logits. Encoder: the
// BERT attention mask (1 − mask)·−10000 from an int64 input, and the last hidden state. Weights are seeded.
using Condense.Tensors;
using Google.Protobuf;
using Onnx;
using static Condense.Tests.Onnx.OnnxTestModels;

namespace Condense.Tests.Transformers;

internal sealed class TinyTransformer
{
    public const int Vocab = 50, Width = 16, Heads = 2, HeadWidth = Width / Heads, MaxLength = 16, Hidden = 32;

    private readonly List<NodeProto> _nodes = [];
    private readonly List<TensorProto> _initializers = [];
    private readonly Rng _rng;
    private readonly long _opset;
    private readonly int _heads;
    private int _counter;

    private TinyTransformer(long opset, ulong seed, int heads = Heads) { _opset = opset; _rng = new Rng(seed); _heads = heads; }

    /// <summary>A GPT-style decoder: input_ids [batch, seq] int64 → logits [batch, seq, Vocab].</summary>
    public static ModelProto Decoder(long opset, ulong seed = 1) => new TinyTransformer(opset, seed).Build(causal: true);

    /// <summary>A BERT-style encoder: input_ids and attention_mask [batch, seq] int64 → last_hidden_state [batch, seq, Width].</summary>
    public static ModelProto Encoder(long opset, ulong seed = 2) => new TinyTransformer(opset, seed).Build(causal: false);

    /// <summary>
    /// A BERT-style post-norm encoder of <paramref name="layers"/> layers: embeddings with a layer norm, then per layer separate
    /// query/key/value projections with biases split into <paramref name="heads"/> heads, x = LN(x + attention(x)), x = LN(x + MLP(x)).
    /// </summary>
    public static ModelProto Bert(long opset, int layers, int heads = 4, ulong seed = 3) => new TinyTransformer(opset, seed, heads).BuildBert(layers);

    private ModelProto BuildBert(int layers)
    {
        var ids = "input_ids";
        var shape = Op("Shape", [ids]);
        var seq = Op("Gather", [shape, Long(1)], Int("axis", 0));
        var positions = Op("Range", [Long(0), seq, Long(1)]);
        var x = LayerNorm(Op("Add", [Op("Gather", [Weight(Vocab, Width), ids]), Op("Gather", [Weight(MaxLength, Width), positions])]));
        var bias = PaddingBias("attention_mask");
        for (int layer = 0; layer < layers; layer++)
        {
            x = LayerNorm(Op("Add", [SeparateAttention(x, bias), x]));
            x = LayerNorm(Op("Add", [Mlp(x), x]));
        }
        _nodes.Add(Node("Identity", [x], "last_hidden_state"));
        var graph = new GraphProto { Name = "tiny-bert" };
        graph.Node.AddRange(_nodes);
        graph.Initializer.AddRange(_initializers);
        graph.Input.Add(LongInput(ids));
        graph.Input.Add(LongInput("attention_mask"));
        graph.Output.Add(new ValueInfoProto { Name = "last_hidden_state", Type = new TypeProto { TensorType = new() { ElemType = 1 } } });
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Condense.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        return model;
    }

    // As torch exports BertSelfAttention: each projection reshaped to heads from its own shape ([batch, seq] from Shape,
    // the head count and width as constants), scores scaled and masked, the context merged back to [batch, seq, Width].
    private string SeparateAttention(string x, string bias)
    {
        int headWidth = Width / _heads;
        string Projection(string input) => Op("Add", [Weight(Width), Op("MatMul", [input, Weight(Width, Width)])]);
        string ToHeads(string t, long[] perm)
        {
            var s = Op("Shape", [t]);
            var target = Op("Concat", [Unsqueeze(Op("Gather", [s, Long(0)], Int("axis", 0))), Unsqueeze(Op("Gather", [s, Long(1)], Int("axis", 0))),
                Long([_heads]), Long([headWidth])], Int("axis", 0));
            return Op("Transpose", [Op("Reshape", [t, target])], Ints("perm", perm));
        }
        var q = ToHeads(Projection(x), [0, 2, 1, 3]);
        var k = ToHeads(Projection(x), [0, 2, 3, 1]);
        var v = ToHeads(Projection(x), [0, 2, 1, 3]);
        var scores = Op("Add", [Op("Div", [Op("MatMul", [q, k]), Float(MathF.Sqrt(headWidth))]), bias]);
        var context = Op("Transpose", [Op("MatMul", [Op("Softmax", [scores], Int("axis", -1)), v])], Ints("perm", 0, 2, 1, 3));
        var cs = Op("Shape", [context]);
        var merged = Op("Reshape", [context, Op("Concat", [Unsqueeze(Op("Gather", [cs, Long(0)], Int("axis", 0))),
            Unsqueeze(Op("Gather", [cs, Long(1)], Int("axis", 0))), Long([Width])], Int("axis", 0))]);
        return Op("Add", [Weight(Width), Op("MatMul", [merged, Weight(Width, Width)])]);
    }

    private ModelProto Build(bool causal)
    {
        var ids = "input_ids";
        var shape = Op("Shape", [ids]);
        var seq = Op("Gather", [shape, Long(1)], Int("axis", 0));
        var positions = Op("Range", [Long(0), seq, Long(1)]);
        var x = Op("Add", [Op("Gather", [Weight(Vocab, Width), ids]), Op("Gather", [Weight(MaxLength, Width), positions])]);
        var bias = causal ? CausalBias(seq) : PaddingBias("attention_mask");
        x = Op("Add", [x, Attention(LayerNorm(x), shape, bias)]);
        x = Op("Add", [x, Mlp(LayerNorm(x))]);
        var output = causal ? Op("MatMul", [LayerNorm(x), Weight(Width, Vocab)]) : LayerNorm(x);
        _nodes.Add(Node("Identity", [output], causal ? "logits" : "last_hidden_state"));

        var graph = new GraphProto { Name = causal ? "tiny-decoder" : "tiny-encoder" };
        graph.Node.AddRange(_nodes);
        graph.Initializer.AddRange(_initializers);
        graph.Input.Add(LongInput(ids));
        if (!causal) graph.Input.Add(LongInput("attention_mask"));
        graph.Output.Add(new ValueInfoProto { Name = causal ? "logits" : "last_hidden_state", Type = new TypeProto { TensorType = new() { ElemType = 1 } } });
        var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Condense.Tests" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        return model;
    }

    private string Attention(string x, string inputShape, string bias)
    {
        var qkv = Op("Add", [Op("MatMul", [x, Weight(Width, 3 * Width)]), Weight(3 * Width)]);
        var parts = Split(qkv, 3);
        // [batch, seq, Width] → [batch, Heads, seq, HeadWidth], the shape built from the input's batch and length.
        var batch = Unsqueeze(Op("Gather", [inputShape, Long(0)], Int("axis", 0)));
        var length = Unsqueeze(Op("Gather", [inputShape, Long(1)], Int("axis", 0)));
        var heads = Op("Concat", [batch, length, Long([Heads]), Long([HeadWidth])], Int("axis", 0));
        string ToHeads(string t, long[] perm) => Op("Transpose", [Op("Reshape", [t, heads])], Ints("perm", perm));
        var q = ToHeads(parts[0], [0, 2, 1, 3]);
        var k = ToHeads(parts[1], [0, 2, 3, 1]);
        var v = ToHeads(parts[2], [0, 2, 1, 3]);
        var scores = Op("Add", [Op("Div", [Op("MatMul", [q, k]), Float(MathF.Sqrt(HeadWidth))]), bias]);
        var context = Op("Transpose", [Op("MatMul", [Op("Softmax", [scores], Int("axis", -1)), v])], Ints("perm", 0, 2, 1, 3));
        var merged = Op("Reshape", [context, Op("Concat", [batch, length, Long([Width])], Int("axis", 0))]);
        return Op("Add", [Op("MatMul", [merged, Weight(Width, Width)]), Weight(Width)]);
    }

    private string Mlp(string x)
    {
        var h = Op("Add", [Op("MatMul", [x, Weight(Width, Hidden)]), Weight(Hidden)]);
        var gelu = Op("Mul", [Op("Mul", [h, Op("Add", [Op("Erf", [Op("Div", [h, Float(MathF.Sqrt(2f))])]), Float(1f)])]), Float(0.5f)]);
        return Op("Add", [Op("MatMul", [gelu, Weight(Hidden, Width)]), Weight(Width)]);
    }

    private string LayerNorm(string x)
    {
        if (_opset >= 17) return Op("LayerNormalization", [x, Weight(Width, scale: 0.1f, offset: 1f), Weight(Width)], Int("axis", -1));
        var centered = Op("Sub", [x, ReduceMean(x)]);
        var variance = ReduceMean(Op("Pow", [centered, Float(2f)]));
        var normalized = Op("Div", [centered, Op("Sqrt", [Op("Add", [variance, Float(1e-5f)])])]);
        return Op("Add", [Op("Mul", [normalized, Weight(Width, scale: 0.1f, offset: 1f)]), Weight(Width)]);
    }

    // A large negative bias above the diagonal: Trilu from opset 14; before, j > i from two Ranges and Less.
    private string CausalBias(string seq)
    {
        string future;
        if (_opset >= 14)
        {
            var square = Op("Concat", [Unsqueeze(seq), Unsqueeze(seq)], Int("axis", 0));
            var ones = Op("ConstantOfShape", [square], TensorValue("value", Floats("one", [1f], 1)));
            future = Op("Cast", [Op("Trilu", [ones, Long(1)], Int("upper", 1))], Int("to", 9));
        }
        else
        {
            var range = Op("Range", [Long(0), seq, Long(1)]);
            future = Op("Less", [Unsqueeze(range, 1), Unsqueeze(range, 0)]);
        }
        return Op("Where", [future, Float(-1e4f), Float(0f)]);
    }

    // BERT's extended attention mask: (1 − mask) · −10000 broadcast over heads and query positions.
    private string PaddingBias(string mask)
    {
        var m = Op("Cast", [Unsqueeze(Unsqueeze(mask, 1), 2)], Int("to", 1));
        return Op("Mul", [Op("Sub", [Float(1f), m]), Float(-1e4f)]);
    }

    private string[] Split(string x, int parts)
    {
        var outputs = Enumerable.Range(0, parts).Select(_ => $"t{_counter++}").ToArray();
        var node = _opset >= 13 ? Node("Split", [x, Long(Enumerable.Repeat((long)Width, parts).ToArray())], outputs[0], Int("axis", -1))
            : Node("Split", [x], outputs[0], Int("axis", -1), Ints("split", Enumerable.Repeat((long)Width, parts).ToArray()));
        node.Output.AddRange(outputs[1..]);
        _nodes.Add(node);
        return outputs;
    }

    private string ReduceMean(string x) => _opset >= 18 ? Op("ReduceMean", [x, Long([-1])]) : Op("ReduceMean", [x], Ints("axes", -1));

    private string Unsqueeze(string x, long axis = 0) => _opset >= 13 ? Op("Unsqueeze", [x, Long([axis])]) : Op("Unsqueeze", [x], Ints("axes", axis));

    private string Op(string op, string[] inputs, params AttributeProto[] attributes)
    {
        string output = $"t{_counter++}";
        _nodes.Add(Node(op, inputs, output, attributes));
        return output;
    }

    private string Weight(params int[] shape) => Weight(shape, 0.3f, 0f);

    private string Weight(int size, float scale, float offset) => Weight([size], scale, offset);

    private string Weight(int[] shape, float scale, float offset)
    {
        var values = Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(_ => offset + scale * _rng.NextNormal()).ToArray();
        return Add(Floats($"w{_counter++}", values, shape.Select(d => (long)d).ToArray()));
    }

    private string Float(float value) => Add(Floats($"c{_counter++}", [value]));

    private string Long(long value) => Add(Longs($"c{_counter++}", [value]));

    private string Long(long[] values) => Add(Longs($"c{_counter++}", values, values.Length));

    private string Add(TensorProto t)
    {
        _initializers.Add(t);
        return t.Name;
    }

    private static ValueInfoProto LongInput(string name)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "sequence" });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 7, Shape = shape } } };
    }
}
