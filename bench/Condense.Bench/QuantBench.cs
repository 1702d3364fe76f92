// What static int8 quantization buys at inference, measured in one run: LeNet-300-100 trained 2 epochs on
// the embedded MNIST, quantized by the library's Quantizer (static, per-channel symmetric int8 weights, uint8
// activations calibrated by min-max on 512 training images), compiled by IntegerModel, and timed against the
// fp32 GraphModule at batch 1, 64 and 256, alternately, best of repeated runs. Before timing, the integer
// model is checked against the QDQ float simulation (argmax agreement, accuracy) on the 2000 test images.
using Condense.Autograd;
using Condense.Data;
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels;
using Condense.Kernels.Platform;
using Condense.Nn;
using Condense.Quantization;
using Condense.Tensors;
using Condense.Training;

namespace Condense.Bench;

/// <summary>`quant`: µs per forward of the fp32 graph and the int8 IntegerModel, and the speed ratio.</summary>
internal static class QuantBench
{
    public static int Run(string[] args)
    {
        var (train, test) = Mnist.LoadEmbedded();
        var model = ModelSpec.Parse("mlp:784-300-100-10").Build(7);
        Trainer.Fit(model, train, null, new TrainOptions { Epochs = 2 });
        var graph = GraphTracer.Trace(model, [784]);
        var fp32 = new GraphModule(graph.Clone()); fp32.Eval();
        var qdq = Quantizer.Quantize(fp32, train, new QuantizeOptions { CalibrationSamples = 512 }).Model.Graph;
        var simulation = new GraphModule(qdq.Clone()); simulation.Eval();
        var int8 = IntegerModel.Compile(qdq);

        var x = test.Batch(Enumerable.Range(0, test.Count).ToArray());
        var labels = test.BatchLabels(Enumerable.Range(0, test.Count).ToArray());
        Tensor yFp32, ySim;
        using (GradMode.NoGrad()) { yFp32 = fp32.Forward(x); ySim = simulation.Forward(x); }
        var yInt = int8.Forward(x);
        int agree = 0;
        for (int i = 0; i < test.Count; i++) if (ArgMax(yInt, i) == ArgMax(ySim, i)) agree++;
        double maxDiff = yInt.Data.Zip(ySim.Data, (a, b) => Math.Abs(a - b)).Max();
        Console.WriteLine($"LeNet-300-100, 2 epochs on the embedded MNIST; test accuracy ({test.Count} images): fp32 {Acc(yFp32):P2}, " +
            $"QDQ simulation {Acc(ySim):P2}, IntegerModel {Acc(yInt):P2}");
        Console.WriteLine($"IntegerModel vs simulation: argmax agrees on {agree}/{test.Count}, max |Δlogit| {maxDiff:G3}");
        if (agree < 0.995 * test.Count) { Console.WriteLine("MISMATCH: the integer model disagrees with the simulation"); return 1; }

        Console.WriteLine();
        Console.WriteLine($"µs per forward, best of repeated runs measured alternately; path {Cpu.Active}, {Cpu.Threads} threads (and 1 thread)");
        Console.WriteLine($"{"batch",5}  {"fp32",9} {"int8",9} {"x fp32",7}   {"1-thr fp32",10} {"1-thr int8",10} {"x fp32",7}");
        foreach (int batch in new[] { 1, 64, 256 })
        {
            var input = test.Batch(Enumerable.Range(0, batch).ToArray());
            void Fp32() { using (GradMode.NoGrad()) fp32.Forward(input); }
            void Int8() => int8.Forward(input);
            var (tf, ti) = Alternate(Fp32, Int8);
            int saved = Cpu.Threads;
            Cpu.Threads = 1;
            var (tf1, ti1) = Alternate(Fp32, Int8);
            Cpu.Threads = saved;
            Console.WriteLine($"{batch,5}  {tf * 1e6,9:0.0} {ti * 1e6,9:0.0} {tf / ti,7:0.00}   {tf1 * 1e6,10:0.0} {ti1 * 1e6,10:0.0} {tf1 / ti1,7:0.00}");
        }
        return 0;

        double Acc(Tensor logits) => Metrics.CountCorrect(logits, labels) / (double)test.Count;
    }

    // Best seconds per call of each action over several alternating rounds, so both see the same machine load.
    private static (double A, double B) Alternate(Action a, Action b, int rounds = 5)
    {
        double bestA = double.MaxValue, bestB = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            bestA = Math.Min(bestA, Timing.MeasureSeconds(a, 0.1));
            bestB = Math.Min(bestB, Timing.MeasureSeconds(b, 0.1));
        }
        return (bestA, bestB);
    }

    private static int ArgMax(Tensor logits, int row)
    {
        int n = logits.Shape[1], best = 0;
        for (int j = 1; j < n; j++) if (logits.Data[row * n + j] > logits.Data[row * n + best]) best = j;
        return best;
    }
}
