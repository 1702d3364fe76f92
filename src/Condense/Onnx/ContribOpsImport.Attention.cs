// The two fused ops of ONNX Runtime's Python transformer optimizer that BERT-style encoders carry in Hugging Face
// Optimum's model_O2 … model_O4 files, read as the standard ops PyTorch exports for them (ONNX Runtime's contrib op docs,
// docs/ContribOperators.md), so head removal, layer dropping and the inference fusions see the graph they know:
// - Attention(x, W, b, mask_index[, attention_bias]): the merged Q/K/V weight [in, q + k + v] is split into three Linear
//   layers, each reshaped to heads [batch, length, heads, width] and transposed (keys to [.., width, length]); scores =
//   MatMul(Q, Kᵀ) · scale (1/√width unless given) + the mask's additive form (+ attention_bias), Softmax over the keys,
//   times V, heads merged back. The mask is mask_filter_value (−10,000) where a key is not attended and 0 where it is:
//   the raw 0/1 mask [batch, keys] or [batch, queries, keys], or the right-padded lengths [batch] (EmbedLayerNormalization's
//   mask_index), whose rank is read from the nodes that compute it; unidirectional adds the causal mask, where either mask
//   holds (their minimum), as ONNX Runtime's kernel sets rather than adds it. A key/value cache (past, present), rotary
//   positions and the other mask layouts are refused by name.
// - EmbedLayerNormalization(ids, segment ids, word, position and segment tables, γ, β, mask, position ids): the three
//   Gathers (positions 0 … length − 1 unless given), their sum (output 2 when asked for), LayerNormalization over the
//   last axis; its mask_index (output 1) is the number of ones in each row of the mask.
using Condense.Graph;
using Condense.Tensors;

namespace Condense.Onnx;

internal static partial class ContribOpsImport
{
    private const string Attention = "Attention", EmbedLayerNorm = "EmbedLayerNormalization";

    // ONNX TensorProto element types for Cast's `to`.
    private const long FloatType = 1, Int64Type = 7;

    private sealed partial class Builder
    {
        private string Input(int i) => node.Inputs.Count > i ? node.Inputs[i] : "";

        private string Output(int i) => node.Outputs.Count > i ? node.Outputs[i] : "";

        private string Ints(params long[] values)
        {
            string name = Fresh();
            graph.Initializers[name] = Tensor.FromInt64s(values, DataType.Int64, values.Length);
            return name;
        }

        private string ScalarInt(long value)
        {
            string name = Fresh();
            graph.Initializers[name] = Tensor.FromInt64s([value], DataType.Int64);
            return name;
        }

        private string Cast(string x, long to) => Emit(OpTypes.Cast, [x], attributes: new() { ["to"] = AttributeValue.Int(to) });

        // Unsqueeze with its axes as an attribute before opset 13 and as an input from it.
        private string Unsqueeze(string x, params long[] axes) => opset >= 13
            ? Emit(OpTypes.Unsqueeze, [x, Ints(axes)])
            : Emit(OpTypes.Unsqueeze, [x], attributes: new() { ["axes"] = AttributeValue.Ints(axes) });

        private string Transpose(string x, params long[] perm) => Emit(OpTypes.Transpose, [x], attributes: new() { ["perm"] = AttributeValue.Ints(perm) });

        // 0, 1, …, n − 1 (int64) for n the size of dimension `axis` of x.
        private string Positions(string x, int axis)
        {
            var length = Emit(OpTypes.Gather, [Emit(OpTypes.Shape, [x]), ScalarInt(axis)]);
            return Emit(OpTypes.Range, [ScalarInt(0), length, ScalarInt(1)]);
        }

        public void Attention()
        {
            if (opset < 11) throw Refuse("needs opset 11 or later (Range)");
            if (Input(4).Length > 0 || Output(1).Length > 0 || Input(6).Length > 0)
                throw Refuse("a key/value cache (past, present) is not supported: export the model without one");
            if (node.Int("do_rotary", 0) != 0 || node.Int("past_present_share_buffer", 0) != 0)
                throw Refuse("rotary positions and a shared cache buffer are not supported");
            int heads = (int)node.Int("num_heads", 0);
            if (!graph.Initializers.TryGetValue(Input(1), out var weight) || weight.Rank != 2 || heads <= 0)
                throw Refuse("needs num_heads and a constant weight of shape [input, q + k + v]");
            long[] sizes = node.Attributes.TryGetValue("qkv_hidden_sizes", out var s) && s.IntsValue is { Length: 3 } given
                ? given : Enumerable.Repeat((long)weight.Shape[1] / 3, 3).ToArray();
            if (sizes[0] != sizes[1] || sizes.Sum() != weight.Shape[1] || sizes.Any(v => v <= 0 || v % heads != 0))
                throw Refuse($"qkv_hidden_sizes {string.Join(", ", sizes)} do not fit a weight of width {weight.Shape[1]} and {heads} heads");
            Tensor? bias = Input(2).Length == 0 ? null
                : graph.Initializers.TryGetValue(Input(2), out var b) && b.Size == weight.Shape[1] ? b : throw Refuse("needs a constant bias");
            long width = sizes[0] / heads, valueWidth = sizes[2] / heads;

            string query = Heads(0, "query", sizes, weight, bias, heads, width, [0, 2, 1, 3]);
            string key = Heads(1, "key", sizes, weight, bias, heads, width, [0, 2, 3, 1]);
            string value = Heads(2, "value", sizes, weight, bias, heads, valueWidth, [0, 2, 1, 3]);
            float scale = node.Float("scale", 1f / MathF.Sqrt(width));
            string scores = Emit(OpTypes.Mul, [Emit(OpTypes.MatMul, [query, key]), Scalar(scale)]);
            if (Mask() is { } mask) scores = Add(scores, mask);
            if (Input(5).Length > 0) scores = Add(scores, Input(5));
            var probabilities = Emit(OpTypes.Softmax, [scores], attributes: new() { ["axis"] = AttributeValue.Int(opset >= 13 ? -1 : 3) });
            var context = Transpose(Emit(OpTypes.MatMul, [probabilities, value]), 0, 2, 1, 3);
            Emit(OpTypes.Reshape, [context, Ints(0, 0, sizes[2])], node.Outputs[0]);
        }

        // Part `part` of the merged projection as its own Linear layer (weight and bias sliced into initializers), reshaped to
        // [batch, length, heads, width] and transposed by `perm`.
        private string Heads(int part, string role, long[] sizes, Tensor weight, Tensor? bias, int heads, long width, long[] perm)
        {
            int first = (int)sizes.Take(part).Sum(), columns = (int)sizes[part], rows = weight.Shape[0];
            var w = new float[rows * columns];
            for (int r = 0; r < rows; r++) Array.Copy(weight.Data, r * weight.Shape[1] + first, w, r * columns, columns);
            string weightName = $"{node.Name}/{role}/weight";
            graph.Initializers[weightName] = new Tensor(w, rows, columns);
            graph.Trainable.Add(weightName);
            string projected = Emit(OpTypes.MatMul, [node.Inputs[0], weightName]);
            if (bias is not null)
            {
                string biasName = $"{node.Name}/{role}/bias";
                graph.Initializers[biasName] = new Tensor(bias.Data.AsSpan(first, columns).ToArray(), columns);
                graph.Trainable.Add(biasName);
                projected = Add(projected, biasName);
            }
            return Transpose(Emit(OpTypes.Reshape, [projected, Ints(0, 0, heads, width)]), perm);
        }

        // The additive mask [batch, 1, queries or 1, keys] (or [queries, keys] when only causal): mask_filter_value where a key
        // is not attended, 0 where it is; null with neither a mask nor unidirectional.
        private string? Mask()
        {
            float filter = node.Float("mask_filter_value", -10000f);
            string? padding = null;
            if (Input(3).Length > 0)
            {
                string attended = RankOf(Input(3)) switch
                {
                    1 => Cast(Emit(OpTypes.Less, [Unsqueeze(Positions(node.Inputs[0], 1), 0), Unsqueeze(Cast(Input(3), Int64Type), 1)]), FloatType),
                    2 or 3 => Cast(Input(3), FloatType),
                    var r => throw Refuse(r is null
                        ? $"the rank of mask_index '{Input(3)}' could not be found from the nodes that compute it"
                        : $"a mask_index of rank {r} is not supported (lengths [batch], or a 0/1 mask [batch, keys] or [batch, queries, keys])"),
                };
                var additive = Emit(OpTypes.Mul, [Emit(OpTypes.Sub, [Scalar(1f), attended]), Scalar(filter)]);
                padding = RankOf(Input(3)) == 3 ? Unsqueeze(additive, 1) : Unsqueeze(additive, 1, 2);
            }
            if (node.Int("unidirectional", 0) == 0) return padding;
            var positions = Positions(node.Inputs[0], 1);
            var future = Emit(OpTypes.Greater, [Unsqueeze(positions, 0), Unsqueeze(positions, 1)]);
            var causal = Emit(OpTypes.Mul, [Cast(future, FloatType), Scalar(filter)]);
            return padding is null ? causal : Emit(OpTypes.Min, [padding, causal]);
        }

        // The rank of a value from the graph's inputs and the nodes read so far through the ops that carry or reduce it; null if unknown.
        private int? RankOf(string value)
        {
            if (graph.Inputs.FirstOrDefault(i => i.Name == value) is { } input) return input.Shape.Length;
            var producer = before.LastOrDefault(n => n.Outputs.Contains(value));
            if (producer is null || producer.Inputs.Count == 0) return null;
            if (producer.OpType is OpTypes.Cast or OpTypes.Identity) return RankOf(producer.Inputs[0]);
            if (producer.OpType != OpTypes.ReduceSum || RankOf(producer.Inputs[0]) is not int rank) return null;
            if (producer.Int("keepdims", 1) != 0) return rank;
            long[]? axes = producer.Attributes.TryGetValue("axes", out var a) ? a.IntsValue
                : producer.Inputs.Count > 1 && graph.Initializers.TryGetValue(producer.Inputs[1], out var t) ? t.ToInt64Values() : null;
            return axes is null ? 0 : rank - axes.Length;
        }

        public void EmbedLayerNormalization()
        {
            if (opset < 11) throw Refuse("needs opset 11 or later (Range)");
            if (new[] { 0, 2, 3, 5, 6 }.Any(i => Input(i).Length == 0))
                throw Refuse("needs input_ids, the word and position embedding tables, gamma and beta");
            string words = Emit(OpTypes.Gather, [Input(2), Input(0)]);
            string positions = Emit(OpTypes.Gather, [Input(3), Input(8).Length > 0 ? Input(8) : Positions(Input(0), 1)]);
            string sum = Input(1).Length > 0 && Input(4).Length > 0
                ? Emit(OpTypes.Add, [Add(words, positions), Emit(OpTypes.Gather, [Input(4), Input(1)])], Output(2).Length > 0 ? Output(2) : null)
                : Emit(OpTypes.Add, [words, positions], Output(2).Length > 0 ? Output(2) : null);
            Emit(OpTypes.LayerNormalization, [sum, Input(5), Input(6)], node.Outputs[0], new()
            {
                ["axis"] = AttributeValue.Int(-1), ["epsilon"] = AttributeValue.Float(node.Float("epsilon", 1e-12f)),
            });
            if (Output(1).Length == 0) return;
            if (Input(7).Length == 0) throw Refuse("a mask_index output needs the mask input");
            var attributes = new Dictionary<string, AttributeValue> { ["keepdims"] = AttributeValue.Int(0) };
            if (opset < 13) attributes["axes"] = AttributeValue.Ints(1);
            Emit(OpTypes.ReduceSum, opset >= 13 ? [Input(7), Ints(1)] : [Input(7)], Output(1), attributes);
        }
    }
}
