// Training and distillation curves: per epoch, the loss each run minimised and its accuracy — on the training
// batches (thick) and, where the run evaluated after each epoch, on held-out data (thin, open markers, same colour). A
// distillation run's loss is Hinton's mixed loss, so losses compare within a run, accuracies across runs.
using Condense.Training;

namespace Condense.Plots;

/// <summary>One training run's epochs under a legend label.</summary>
public sealed record TrainingCurve(string Label, IReadOnlyList<EpochResult> Epochs);

/// <summary>Loss and accuracy per epoch.</summary>
public static class TrainingCurves
{
    /// <summary>The loss each run minimised, per epoch.</summary>
    public static PlotImage Loss(string name, string title, IReadOnlyList<TrainingCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        return Charts.Lines(name, title, "epoch", "training loss",
            curves.Select(c => new LineSeries(c.Label, Epochs(c), c.Epochs.Select(e => (double)e.TrainLoss).ToList())).ToList(), integerX: true);
    }

    /// <summary>Accuracy per epoch in %: on the training batches, and thin on the validation data where a run has it.</summary>
    public static PlotImage Accuracy(string name, string title, IReadOnlyList<TrainingCurve> curves)
    {
        ArgumentNullException.ThrowIfNull(curves);
        var series = new List<LineSeries>();
        for (int i = 0; i < curves.Count; i++)
        {
            var c = curves[i];
            series.Add(new LineSeries($"{c.Label} (train)", Epochs(c), c.Epochs.Select(e => 100.0 * e.TrainAccuracy).ToList()) { Color = i });
            if (c.Epochs.Count > 0 && c.Epochs.All(e => e.Validation is not null))
                series.Add(new LineSeries($"{c.Label} (test)", Epochs(c), c.Epochs.Select(e => 100.0 * e.Validation!.Accuracy).ToList())
                {
                    Color = i, Secondary = true,
                });
        }
        return Charts.Lines(name, title, "epoch", "accuracy (%)", series, integerX: true);
    }

    private static List<double> Epochs(TrainingCurve c) => c.Epochs.Select(e => (double)e.Epoch).ToList();
}
