// Resampling along one axis as a fixed linear map: output index j along the axis is Σₜ weight[j, t] · x[.., index[j, t], ..]
// (nearest: one tap of weight 1; linear: two; cubic: four), or a constant where the map says so (ONNX Resize's
// extrapolation value outside a crop box). N-D resizing applies it axis by axis: linear and cubic interpolation are
// separable. Floats run in double and round once to the type; integers only take one-tap weight-1 maps (nearest).
// For float32 the gradient is the transposed map: gx[.., index[j, t], ..] += weight[j, t] · gy[.., j, ..].
namespace Condense.Tensors;

/// <summary>A resampling map along one axis: <see cref="Taps"/> (index, weight) pairs per output position.</summary>
/// <param name="Length">Output positions.</param>
/// <param name="Taps">Taps per position.</param>
/// <param name="Indices">Source index of tap t at position j: [j · Taps + t].</param>
/// <param name="Weights">Its weight.</param>
/// <param name="Constant">Where not null and not NaN, the position holds this value instead (weights are ignored).</param>
public sealed record ResampleMap(int Length, int Taps, int[] Indices, double[] Weights, double[]? Constant = null);

public partial class Tensor
{
    /// <summary>This tensor resampled along <paramref name="axis"/> by <paramref name="map"/>.</summary>
    public Tensor Resample(int axis, ResampleMap map)
    {
        ArgumentNullException.ThrowIfNull(map);
        var (outer, length, inner) = SplitAt(axis);
        int[] shape = [.. Shape];
        shape[axis] = map.Length;
        var y = Allocate(DataType, shape);
        bool nearest = map.Taps == 1 && map.Weights.All(w => w == 1) && map.Constant is null;
        if (DataType.Storage() == TensorStorage.Int64)
        {
            if (!nearest) throw new CondenseException($"only nearest resampling is defined for {DataType.OnnxName()} tensors");
            var (lx, ly) = (_longs!, y._longs!);
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < map.Length; j++)
                    Array.Copy(lx, (o * length + map.Indices[j]) * inner, ly, (o * map.Length + j) * inner, inner);
            return y;
        }
        if (DataType == DataType.Float32 && map.Constant is null) ResampleFloats(Data, y.Data, outer, length, inner, map, nearest);
        else
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < map.Length; j++)
                for (int i = 0; i < inner; i++)
                {
                    int at = (o * map.Length + j) * inner + i;
                    double value;
                    if (map.Constant is { } c && !double.IsNaN(c[j])) value = c[j];
                    else
                    {
                        value = 0;
                        for (int t = 0; t < map.Taps; t++)
                            value += map.Weights[j * map.Taps + t] * GetDouble((o * length + map.Indices[j * map.Taps + t]) * inner + i);
                    }
                    if (DataType == DataType.Float64) y._doubles![at] = value;
                    else y._floats![at] = DataType.Round((float)value);
                }
        if (DataType != DataType.Float32) return y;
        return Record(y, g =>
        {
            var gx = new float[Size];
            var gy = g.Data;
            for (int o = 0; o < outer; o++)
                for (int j = 0; j < map.Length; j++)
                {
                    if (map.Constant is { } c && !double.IsNaN(c[j])) continue;
                    for (int t = 0; t < map.Taps; t++)
                    {
                        float w = (float)map.Weights[j * map.Taps + t];
                        int source = (o * length + map.Indices[j * map.Taps + t]) * inner, target = (o * map.Length + j) * inner;
                        for (int i = 0; i < inner; i++) gx[source + i] += w * gy[target + i];
                    }
                }
            AccumulateGrad(gx);
        }, this);
    }

    // The float32 map without constants, on the arrays: nearest copies rows of `inner` values (or gathers along the last
    // axis); other maps sum their taps in double in the same order as the general loop, so the bits are the same.
    private static void ResampleFloats(float[] x, float[] y, int outer, int length, int inner, ResampleMap map, bool nearest)
    {
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < map.Length; j++)
            {
                int target = (o * map.Length + j) * inner;
                if (nearest)
                {
                    int source = (o * length + map.Indices[j]) * inner;
                    if (inner == 1) y[target] = x[source];
                    else x.AsSpan(source, inner).CopyTo(y.AsSpan(target, inner));
                    continue;
                }
                for (int i = 0; i < inner; i++)
                {
                    double value = 0;
                    for (int t = 0; t < map.Taps; t++)
                        value += map.Weights[j * map.Taps + t] * x[(o * length + map.Indices[j * map.Taps + t]) * inner + i];
                    y[target + i] = (float)value;
                }
            }
    }
}
