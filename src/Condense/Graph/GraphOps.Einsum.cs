// ONNX Einsum (opset 12, https://onnx.ai/onnx/operators/onnx__Einsum.html): the Einstein summation over float32
// operands, built from autograd ops so it trains. Each operand first loses its repeated labels (a diagonal, "ii->i")
// and the labels no one else uses (summed); operands are then contracted left to right as one broadcast MatMul each:
// A permuted to [batch…, A-only…, contracted…] and B to [batch…, contracted…, B-only…], the batch dimensions
// broadcasting as numpy's do. "..." stands for the leading dimensions not named, aligned from the right. Without
// "->" the output is the ellipsis, then every label used once, in alphabetical order (numpy's implicit mode). Other
// types (float64, integers) run as the sum over every assignment of the labels, in double or wrapping int64.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    internal static Tensor Einsum(Node node, Tensor?[] inputs)
    {
        string where = $"node '{node.Name}' (Einsum)";
        string equation = (node.Attributes.TryGetValue("equation", out var e) ? e.StringValue : null)?.Replace(" ", "", StringComparison.Ordinal)
            ?? throw new CondenseException($"{where}: the equation attribute is missing");
        var operands = inputs.Select((x, i) => x ?? throw new CondenseException($"{where}: input {i} is missing")).ToList();
        string[] sides = equation.Split("->");
        string[] terms = sides[0].Split(',');
        if (sides.Length > 2 || terms.Length != operands.Count)
            throw new CondenseException($"{where}: equation '{equation}' does not fit {operands.Count} input(s)");

        int ellipsisRank = 0;
        for (int i = 0; i < terms.Length; i++)
            if (terms[i].Contains("...", StringComparison.Ordinal)) ellipsisRank = Math.Max(ellipsisRank, operands[i].Rank - (terms[i].Length - 3));
        var labels = terms.Select((t, i) => Labels(where, t, operands[i].Rank, ellipsisRank)).ToList();
        var output = sides.Length == 2 ? Labels(where, sides[1], -1, ellipsisRank) : ImplicitOutput(labels, ellipsisRank);
        for (int i = 1; i < operands.Count; i++) TypedOps.CheckSameType(node.OpType, operands[0], operands[i]);
        if (operands[0].DataType != DataType.Float32) return TypedEinsum(where, operands, labels, output);

        for (int i = 0; i < operands.Count; i++)
        {
            (operands[i], labels[i]) = Diagonal(where, operands[i], labels[i]);
            var usedElsewhere = output.Concat(labels.Where((_, j) => j != i).SelectMany(l => l)).ToHashSet();
            (operands[i], labels[i]) = SumOut(operands[i], labels[i], usedElsewhere);
        }
        var (y, yLabels) = (operands[0], labels[0]);
        for (int i = 1; i < operands.Count; i++)
        {
            var keep = output.Concat(labels.Skip(i + 1).SelectMany(l => l)).ToHashSet();
            (y, yLabels) = Contract(where, y, yLabels, operands[i], labels[i], keep);
        }
        (y, yLabels) = SumOut(y, yLabels, output.ToHashSet());
        if (output.Any(l => !yLabels.Contains(l))) throw new CondenseException($"{where}: output label not found in the inputs of '{equation}'");
        return output.Count == 0 ? y : y.Permute([.. output.Select(l => yLabels.IndexOf(l))]);
    }

    // A term's labels, the ellipsis as labels '0', '1', … for the last dimensions it stands for (rank −1: an output term).
    private static List<char> Labels(string where, string term, int rank, int ellipsisRank)
    {
        int dots = term.IndexOf("...", StringComparison.Ordinal);
        string letters = dots < 0 ? term : term.Remove(dots, 3);
        if (letters.Any(c => !char.IsAsciiLetter(c))) throw new CondenseException($"{where}: term '{term}' has a label that is not a letter");
        int expanded = dots < 0 ? 0 : rank < 0 ? ellipsisRank : rank - letters.Length;
        if (rank >= 0 && letters.Length + expanded != rank)
            throw new CondenseException($"{where}: term '{term}' does not match an input of rank {rank}");
        var ellipsis = Enumerable.Range(ellipsisRank - expanded, expanded).Select(k => (char)('0' + k));
        return dots < 0 ? [.. letters] : [.. letters[..dots], .. ellipsis, .. letters[dots..]];
    }

    private static List<char> ImplicitOutput(List<List<char>> labels, int ellipsisRank)
    {
        var all = labels.SelectMany(l => l).Where(char.IsAsciiLetter).ToList();
        return [.. Enumerable.Range(0, ellipsisRank).Select(k => (char)('0' + k)), .. all.Where(c => all.Count(d => d == c) == 1).Order()];
    }

    // A label repeated within one operand takes the diagonal: x[i, i] for "ii".
    private static (Tensor, List<char>) Diagonal(string where, Tensor x, List<char> labels)
    {
        var distinct = labels.Distinct().ToList();
        if (distinct.Count == labels.Count) return (x, labels);
        var sizes = distinct.Select(l => labels.Select((c, d) => (c, d)).Where(p => p.c == l).Select(p => x.Shape[p.d]).Distinct().ToList()).ToList();
        if (sizes.Any(s => s.Count > 1)) throw new CondenseException($"{where}: a repeated label spans dimensions of different sizes");
        int[] shape = [.. sizes.Select(s => s[0])];
        int[] strides = Shape.Strides(x.Shape);
        var source = new int[Shape.Size(shape)];
        var index = new int[shape.Length];
        for (int flat = 0; flat < source.Length; flat++)
        {
            for (int d = shape.Length - 1, rest = flat; d >= 0; d--) { index[d] = rest % shape[d]; rest /= shape[d]; }
            int offset = 0;
            for (int d = 0; d < labels.Count; d++) offset += index[distinct.IndexOf(labels[d])] * strides[d];
            source[flat] = offset;
        }
        return (x.Take(source, shape), distinct);
    }

    private static (Tensor, List<char>) SumOut(Tensor x, List<char> labels, HashSet<char> keep)
    {
        for (int d = labels.Count - 1; d >= 0; d--)
            if (!keep.Contains(labels[d])) { x = x.Sum(d, keepDim: false); labels = [.. labels.Where((_, k) => k != d)]; }
        return (x, labels);
    }

    // One pairwise contraction as a broadcast MatMul of (batch…, M, K) by (batch…, K, N).
    private static (Tensor, List<char>) Contract(string where, Tensor a, List<char> aLabels, Tensor b, List<char> bLabels, HashSet<char> keep)
    {
        (a, aLabels) = SumOut(a, aLabels, [.. keep, .. bLabels]);
        (b, bLabels) = SumOut(b, bLabels, [.. keep, .. aLabels]);
        var batch = aLabels.Where(l => bLabels.Contains(l) && keep.Contains(l)).ToList();
        var contracted = aLabels.Where(l => bLabels.Contains(l) && !keep.Contains(l)).ToList();
        var aOnly = aLabels.Where(l => !bLabels.Contains(l)).ToList();
        var bOnly = bLabels.Where(l => !aLabels.Contains(l)).ToList();
        int Size(Tensor x, List<char> labels, char l) => x.Shape[labels.IndexOf(l)];
        foreach (var l in contracted)
            if (Size(a, aLabels, l) != Size(b, bLabels, l))
                throw new CondenseException($"{where}: label '{l}' has sizes {Size(a, aLabels, l)} and {Size(b, bLabels, l)}");
        int m = aOnly.Aggregate(1, (p, l) => p * Size(a, aLabels, l)), n = bOnly.Aggregate(1, (p, l) => p * Size(b, bLabels, l));
        int k = contracted.Aggregate(1, (p, l) => p * Size(a, aLabels, l));
        var left = a.Permute([.. batch.Concat(aOnly).Concat(contracted).Select(l => aLabels.IndexOf(l))])
            .Reshape([.. batch.Select(l => Size(a, aLabels, l)), m, k]);
        var right = b.Permute([.. batch.Concat(contracted).Concat(bOnly).Select(l => bLabels.IndexOf(l))])
            .Reshape([.. batch.Select(l => Size(b, bLabels, l)), k, n]);
        var product = left.MatMul(right);
        int[] shape = [.. product.Shape.Take(batch.Count), .. aOnly.Select(l => Size(a, aLabels, l)), .. bOnly.Select(l => Size(b, bLabels, l))];
        return (product.Reshape(shape), [.. batch, .. aOnly, .. bOnly]);
    }

    // Σ over every assignment of the labels of the product of the operands' elements; a dimension of size 1 broadcasts.
    private static Tensor TypedEinsum(string where, List<Tensor> operands, List<List<char>> labels, List<char> output)
    {
        var all = labels.SelectMany(l => l).Concat(output).Distinct().ToList();
        var sizes = new int[all.Count];
        for (int i = 0; i < operands.Count; i++)
            for (int d = 0; d < labels[i].Count; d++)
            {
                int at = all.IndexOf(labels[i][d]), size = operands[i].Shape[d];
                if (sizes[at] > 1 && size > 1 && sizes[at] != size)
                    throw new CondenseException($"{where}: label '{labels[i][d]}' has sizes {sizes[at]} and {size}");
                sizes[at] = Math.Max(sizes[at], size);
                if (size == 0) sizes[at] = 0;
            }
        var type = operands[0].DataType;
        int[] shape = [.. output.Select(l => sizes[all.IndexOf(l)])];
        var y = Tensor.Allocate(type, shape);
        var strides = operands.Select((x, i) => OperandStrides(x, labels[i], all)).ToList();
        int[] outStrides = OperandStrides(y, output, all);
        var assignment = new int[all.Count];
        int total = sizes.Aggregate(1, (p, n) => p * n);
        bool integer = type.IsInteger();
        var doubles = integer ? null : new double[y.Size];
        for (int flat = 0; flat < total; flat++)
        {
            for (int d = all.Count - 1, rest = flat; d >= 0; d--) { assignment[d] = rest % sizes[d]; rest /= sizes[d]; }
            int target = Offset(outStrides, assignment);
            if (integer)
            {
                long product = 1;
                for (int i = 0; i < operands.Count; i++) product = unchecked(product * operands[i].Int64Data[Offset(strides[i], assignment)]);
                y.Int64Data[target] = unchecked(y.Int64Data[target] + product);
            }
            else
            {
                double product = 1;
                for (int i = 0; i < operands.Count; i++) product *= operands[i].GetDouble(Offset(strides[i], assignment));
                doubles![target] += product;
            }
        }
        if (integer) return Tensor.FromInt64s(y.Int64Data, type, shape);
        return type == DataType.Float64 ? Tensor.FromDoubles(doubles!, shape) : Tensor.FromFloats([.. doubles!.Select(v => (float)v)], type, shape);
    }

    // Each label's stride in a tensor (0 where it has no such label or the dimension broadcasts from size 1).
    private static int[] OperandStrides(Tensor x, List<char> labels, List<char> all)
    {
        var strides = new int[all.Count];
        int[] own = Shape.Strides(x.Shape);
        for (int d = 0; d < labels.Count; d++)
            if (x.Shape[d] > 1) strides[all.IndexOf(labels[d])] += own[d];
        return strides;
    }

    private static int Offset(int[] strides, int[] assignment)
    {
        int offset = 0;
        for (int d = 0; d < strides.Length; d++) offset += strides[d] * assignment[d];
        return offset;
    }
}
