// ONNX Unique (Ops/IndexOps): the distinct elements of the flattened input, or the distinct slices along an axis,
// compared in the element type. Outputs: the unique values (a Take of the input at each one's first occurrence),
// their first indices, the inverse indices (which unique value each input element or slice is) and the counts.
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    // sorted = 1 (the default) orders the unique values ascending (slices lexicographically, their elements in
    // row-major order); sorted = 0 keeps the order of first occurrence.
    internal static Tensor[] Unique(Node node, Tensor?[] inputs)
    {
        var x = Required(node, inputs, 0);
        bool hasAxis = node.Attributes.ContainsKey("axis");
        int axis = hasAxis ? AxisOf(node, node.Int("axis", 0), x.Rank) : 0;
        var view = hasAxis ? x.Shape : [x.Size];
        var (outer, n, inner) = AxisSplit(view, axis);
        var elementOrder = Ordering(x, largest: false);
        int CompareSlices(int a, int b)
        {
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                    if (elementOrder((o * n + a) * inner + i, (o * n + b) * inner + i) is var c && c != 0) return c;
            return 0;
        }

        // Sorted by value, equal slices by position: each group of equal slices starts with its first occurrence.
        var positions = Enumerable.Range(0, n).ToArray();
        Array.Sort(positions, (a, b) => CompareSlices(a, b) is var c && c != 0 ? c : a.CompareTo(b));
        var firsts = new List<int>();
        var group = new int[n];
        for (int r = 0; r < n; r++)
        {
            if (r == 0 || CompareSlices(positions[r], firsts[^1]) != 0) firsts.Add(positions[r]);
            group[positions[r]] = firsts.Count - 1;
        }
        var rank = Enumerable.Range(0, firsts.Count).ToArray();
        if (node.Int("sorted", 1) == 0)
        {
            // Groups in the order of their first occurrence, renumbered.
            var byFirst = rank.OrderBy(g => firsts[g]).ToArray();
            for (int k = 0; k < byFirst.Length; k++) rank[byFirst[k]] = k;
            firsts = [.. byFirst.Select(g => firsts[g])];
        }
        var inverse = group.Select(g => (long)rank[g]).ToArray();
        var counts = new long[firsts.Count];
        foreach (long g in inverse) counts[g]++;

        var map = new int[outer * firsts.Count * inner];
        for (int o = 0, k = 0; o < outer; o++)
            foreach (int l in firsts)
                for (int i = 0; i < inner; i++) map[k++] = (o * n + l) * inner + i;
        int[] shape = hasAxis ? [.. x.Shape[..axis], firsts.Count, .. x.Shape[(axis + 1)..]] : [firsts.Count];
        return
        [
            x.Take(map, shape),
            Tensor.FromInt64s([.. firsts.Select(f => (long)f)], DataType.Int64, firsts.Count),
            Tensor.FromInt64s(inverse, DataType.Int64, n),
            Tensor.FromInt64s(counts, DataType.Int64, firsts.Count),
        ];
    }
}
