// The run every compression pass shares: measure the model, apply the pass, fine-tune, measure again.
// A pass supplies what differs (how it changes the model, how it fine-tunes it); this keeps the order of
// measurements, and so the reported accuracies and the time taken, the same for all of them. It sits in
// Training, below the passes: it knows modules, data sets, the evaluator and the trainer, nothing more.
using System.Diagnostics;
using Condense.Data;
using Condense.Nn;

namespace Condense.Training;

/// <summary>What a compression run measured on the test set, and how long the run took.</summary>
/// <param name="AccuracyBefore">The model as given.</param>
/// <param name="AccuracyAfterPass">Right after the pass, before any fine-tuning (NaN when the pass could not measure it).</param>
/// <param name="AccuracyAfterFinetuning">After fine-tuning; null when there was none.</param>
/// <param name="Seconds">Wall time of the whole run, measurements included.</param>
public sealed record CompressionMeasures(float AccuracyBefore, float AccuracyAfterPass, float? AccuracyAfterFinetuning, double Seconds);

/// <summary>What a pass step returns: the changed model, what the pass needs to fine-tune it, and optionally its own accuracy.</summary>
/// <param name="Model">The model after the pass (the same object when the pass works in place).</param>
/// <param name="State">The pass's result the fine-tuning step needs (masks, shared weights, …).</param>
/// <param name="AccuracyAfterPass">
/// The accuracy right after the pass when the pass measures it itself (on a copy, on the engine that will run the model);
/// null lets the run evaluate <paramref name="Model"/>.
/// </param>
public readonly record struct PassStep<TModel, TState>(TModel Model, TState State, float? AccuracyAfterPass = null);

/// <summary>Measure → pass → fine-tune → measure, for every pass.</summary>
public static class CompressionRun
{
    /// <summary>
    /// Evaluates <paramref name="model"/> on <paramref name="test"/>, applies <paramref name="pass"/> (which sees that accuracy, so an
    /// accuracy-aware pass can keep within a budget of it), evaluates again (unless the pass measured itself), runs
    /// <paramref name="finetune"/> when <paramref name="finetuneEpochs"/> is positive and evaluates a last time.
    /// </summary>
    public static (TModel Model, TState State, CompressionMeasures Measures) Run<TModel, TState>(TModel model, Dataset test,
        Func<TModel, float, PassStep<TModel, TState>> pass, Action<TModel, TState>? finetune = null, int finetuneEpochs = 0)
        where TModel : Module
    {
        var watch = Stopwatch.StartNew();
        float before = Evaluator.Evaluate(model, test).Accuracy;
        var step = pass(model, before);
        float afterPass = step.AccuracyAfterPass ?? Evaluator.Evaluate(step.Model, test).Accuracy;
        float? afterFinetuning = null;
        if (finetuneEpochs > 0)
        {
            finetune?.Invoke(step.Model, step.State);
            afterFinetuning = Evaluator.Evaluate(step.Model, test).Accuracy;
        }
        return (step.Model, step.State, new CompressionMeasures(before, afterPass, afterFinetuning, watch.Elapsed.TotalSeconds));
    }
}
