// The loop shared by the sensitivity analyses: each chosen tensor changed alone to each point of a sweep, the model
// measured, the tensor restored. Under mpirun the (tensor, point) measurements are handed out round-robin, each run whole
// by one rank outside the collective evaluation, and the results summed: every rank ends with one process's table exactly.
using Condense.Distributed;
using Condense.Graph;

namespace Condense.Pruning;

internal static class AloneSweep
{
    /// <summary>
    /// results[i · points + j] = <paramref name="measure"/>() with target i changed by <paramref name="apply"/>(target, its
    /// original values, j) and every other tensor as it was; the targets are restored afterwards, also on an exception.
    /// </summary>
    public static double[] Run(IReadOnlyList<WeightTensor> targets, int points, Action<WeightTensor, float[], int> apply, Func<double> measure,
        IProgress<(int Done, int Total)>? progress)
    {
        var world = World.Current;
        var results = new double[targets.Count * points];
        int done = 0, total = results.Length;
        progress?.Report((0, total));
        for (int i = 0; i < targets.Count; i++)
        {
            var t = targets[i];
            var original = (float[])t.Parameter.Data.Clone();
            try
            {
                for (int j = 0; j < points; j++)
                {
                    int slot = i * points + j;
                    if (!world.Owns(slot)) continue;
                    apply(t, original, j);
                    using (World.Alone()) results[slot] = measure();
                    Restore(t, original);
                    done += world.Size;
                    progress?.Report((Math.Min(done, total), total));
                }
            }
            finally { Restore(t, original); }
        }
        world.AllReduce(results);
        return results;
    }

    private static void Restore(WeightTensor t, float[] original)
    {
        original.CopyTo(t.Parameter.Data, 0);
        t.Parameter.MarkModified();
    }
}
