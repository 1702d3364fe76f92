// One measured run of the `distributed` benchmark (DistributedBench launches it, alone or under mpirun): joins the MPI run
// when mpirun started it (World.Start), runs one workload data-parallel over the ranks, and rank 0 prints one line
//   RESULT per_second=X unit=U seconds=S
// and writes the student's final weights (raw float32, parameter order) to the --weights file, so the parent can compare
// the 2-rank student with the 1-rank one. Workloads:
//   mlp   Hinton et al. (2015) distillation of mlp:784-1200-1200-10 (untrained, seed 1) into mlp:784-30-10 on the embedded
//         MNIST train set: DistillOptions' defaults with shift-1 augmentation, so the teacher runs on every (augmented)
//         batch; throughput = training samples per second of the epochs after the first (the steady state: the first
//         epoch holds the JIT and the buffers' first growth, which each rank pays in full: at 4 epochs it is 10–15 % of a
//         1-rank run), and whole = TrainReport.SamplesPerSecond (the whole loop, first epoch included).
//   text  all-MiniLM-L6-v2 distilled into its layers 0, 2, 4 (LayerDropping) by TextDistiller on the first N passages of
//         data/text/corpus.txt, two epochs, global batches of 32 × max length 128; throughput = passages per second of the
//         second epoch (timed by the progress reports), the steady state of a distillation: the first epoch has met every
//         batch shape once (JIT, buffers; its first long batch alone took 2.4 s of forward against 0.76 s later, 17 % of a
//         256-passage epoch, paid in full by each rank), and the teacher-embedding cache is not timed; seconds = the
//         second epoch (TextDistillEpoch.Seconds).
//   distributed-worker mlp|text --weights PATH [--mlp-epochs 4] [--passages 256]
using System.Diagnostics;
using System.Globalization;
using Condense.Data;
using Condense.Data.Text;
using Condense.Distillation;
using Condense.Distributed;
using Condense.Formats;
using Condense.Nn;
using Condense.Tests.Pretrained;
using Condense.Training;

namespace Condense.Bench;

internal static class DistributedWorker
{
    public static int Run(string[] args)
    {
        var world = World.Start();
        try
        {
            string workload = args.FirstOrDefault() ?? throw new ArgumentException("usage: distributed-worker mlp|text --weights PATH");
            string weights = Option(args, "--weights") ?? throw new ArgumentException("--weights PATH is required");
            var (perSecond, whole, unit, seconds, student) = workload switch
            {
                "mlp" => Mlp(int.Parse(Option(args, "--mlp-epochs") ?? "4", CultureInfo.InvariantCulture)),
                "text" => Text(int.Parse(Option(args, "--passages") ?? "256", CultureInfo.InvariantCulture)),
                _ => throw new ArgumentException($"unknown workload '{workload}' (mlp, text)"),
            };
            if (world.IsRoot)
            {
                WriteWeights(student, weights);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"RESULT per_second={perSecond:R} whole={whole:R} unit={unit} seconds={seconds:R} ranks={world.Size} " +
                    $"threads={Kernels.Platform.Cpu.Threads}"));
            }
        }
        catch (Exception e)
        {
            if (!world.IsRoot) world.ReportFailure(e.Message);
            Console.Error.WriteLine($"rank {world.Rank}: {e}");
            world.Abort(1);
            return 1;
        }
        world.Finish();
        return 0;
    }

    private static (double PerSecond, double Whole, string Unit, double Seconds, Module Student) Mlp(int epochs)
    {
        if (epochs < 2) throw new ArgumentException($"--mlp-epochs must be at least 2 (the first is not timed), got {epochs}");
        var (train, _) = Mnist.LoadEmbedded();
        var teacher = ModelSpec.Parse("mlp:784-1200-1200-10").Build(1);
        var student = ModelSpec.Parse("mlp:784-30-10").Build(0);
        var options = new DistillOptions { Train = new DistillOptions().Train with { Epochs = epochs, AugmentShift = 1 } };
        var report = Distiller.Distill(student, teacher, train, null, options);
        double steady = report.Epochs.Skip(1).Sum(e => e.Seconds);
        return ((epochs - 1) * train.Count / steady, report.SamplesPerSecond, "samples/s", steady, student);
    }

    private static (double PerSecond, double Whole, string Unit, double Seconds, Module Student) Text(int passageCount)
    {
        var passages = TextPassages.Read(Path.Combine(TextSpeedBench.RepoRoot(), "data", "text", "corpus.txt")).Take(passageCount).ToList();
        var options = new TextDistillOptions { Epochs = 2, BatchSize = 32, MaxLength = 128 };
        // Whole batches only, so that every timed step holds BatchSize passages.
        if (passages.Count % options.BatchSize != 0 || passages.Count < 2 * options.BatchSize)
            throw new ArgumentException($"--passages must be a multiple of {options.BatchSize} and at least 2 batches, got {passages.Count}");
        var tokenizer = TextTokenizer.FromVocabulary(PretrainedModels.MiniLmVocabulary);
        var teacher = ModelFile.Load(PretrainedModels.MiniLmOnnx);
        var (student, _) = TextDistillPipeline.Cut(teacher, tokenizer, new TextStudentOptions { Layers = [0, 2, 4] }, options.MaxLength);
        var steps = new StepClock();
        var epochs = TextDistiller.Distill(student, teacher, tokenizer, passages, options, progress: steps);
        // From the end of the first epoch's last step to the end of the second epoch's.
        int perEpoch = passages.Count / options.BatchSize;
        double timed = steps.Times[^1] - steps.Times[perEpoch - 1];
        return (perEpoch * options.BatchSize / timed, 2 * passages.Count / epochs.Sum(e => e.Seconds), "passages/s", epochs[1].Seconds, student);
    }

    private static void WriteWeights(Module student, string path)
    {
        using var file = new BinaryWriter(File.Create(path));
        foreach (var p in student.Parameters())
            foreach (float w in p.Data.AsSpan(0, p.Size)) file.Write(w);
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    // Progress reports arrive synchronously at the end of each step (TextDistiller calls Report directly).
    private sealed class StepClock : IProgress<TrainProgress>
    {
        public List<double> Times { get; } = [];

        public void Report(TrainProgress value) => Times.Add(Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency);
    }
}
