// Benchmark of Kernels/Conv/Conv2dKernel against ONNX Runtime running a single Conv node of the same shape,
// measured in the same run: LeNet-5's two convolutions at batch 64 and 256 and ResNet-style 3×3 convolutions
// (16–64 channels, 7–32 px, one strided). Passes: forward y = conv(x, w) + b (also timed in ORT, alternately
// with ours so both see the same machine load; the weight packed once, as inference does), input gradient dx, weight gradient dw (with the bias gradient,
// whose flops are not counted). Every result is first checked against the naive loops (Conv2dReference) and
// the forward output against ORT's.
using Condense.Kernels.Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Condense.Bench;

/// <summary>`conv`: GFLOP/s of the convolution passes, and the forward pass against ONNX Runtime.</summary>
internal static class ConvBench
{
    private sealed record Case(string Name, Conv2dGeometry Geometry);

    private static Case C(string name, int n, int c, int hw, int m, int k, int pad, int stride = 1) =>
        new(name, new Conv2dGeometry(n, c, hw, hw, m, k, k, Conv2dOptions.Square(stride, pad)));

    private static Case Depthwise(string name, int n, int c, int hw, int stride) =>
        new(name, new Conv2dGeometry(n, c, hw, hw, c, 3, 3, new Conv2dOptions(stride, stride, 1, 1, 1, 1, 1, 1, c)));

    private static readonly Case[] Cases =
    [
        C("lenet conv1 b=64", 64, 1, 28, 6, 5, 2),
        C("lenet conv1 b=256", 256, 1, 28, 6, 5, 2),
        C("lenet conv2 b=64", 64, 6, 14, 16, 5, 0),
        C("lenet conv2 b=256", 256, 6, 14, 16, 5, 0),
        C("3x3 16-16 32x32 b=64", 64, 16, 32, 16, 3, 1),
        C("3x3 16-16 28x28 b=64", 64, 16, 28, 16, 3, 1),
        C("3x3 32-32 14x14 b=64", 64, 32, 14, 32, 3, 1),
        C("3x3 64-64 7x7 b=64", 64, 64, 7, 64, 3, 1),
        C("3x3 16-32 s2 28x28 b=64", 64, 16, 28, 32, 3, 1, 2),
        // ResNet-18's convolutions at 224×224, batch 1 (one of each shape).
        C("r18 7x7 3-64 s2 224", 1, 3, 224, 64, 7, 3, 2),
        C("r18 3x3 64-64 56", 1, 64, 56, 64, 3, 1),
        C("r18 3x3 64-128 s2 56", 1, 64, 56, 128, 3, 1, 2),
        C("r18 1x1 64-128 s2 56", 1, 64, 56, 128, 1, 0, 2),
        C("r18 3x3 128-128 28", 1, 128, 28, 128, 3, 1),
        C("r18 3x3 128-256 s2 28", 1, 128, 28, 256, 3, 1, 2),
        C("r18 3x3 256-256 14", 1, 256, 14, 256, 3, 1),
        C("r18 3x3 256-512 s2 14", 1, 256, 14, 512, 3, 1, 2),
        C("r18 3x3 512-512 7", 1, 512, 7, 512, 3, 1),
        C("r18 3x3 512-512 7 b=8", 8, 512, 7, 512, 3, 1),
        C("r18 3x3 256-256 14 b=8", 8, 256, 14, 256, 3, 1),
        C("r18 3x3 64-64 56 b=8", 8, 64, 56, 64, 3, 1),
        // resnet-mini (width 16) at batch 1: small layers where per-call costs show.
        C("rmini 3x3 1-16 28", 1, 1, 28, 16, 3, 1),
        C("rmini 3x3 16-16 28", 1, 16, 28, 16, 3, 1),
        C("rmini 3x3 16-32 s2 28", 1, 16, 28, 32, 3, 1, 2),
        C("rmini 3x3 32-32 14", 1, 32, 14, 32, 3, 1),
        C("rmini 3x3 32-64 s2 14", 1, 32, 14, 64, 3, 1, 2),
        C("rmini 3x3 64-64 7", 1, 64, 7, 64, 3, 1),
        // resnet-mini at batch 256: every convolution shape of the model, the strided and 1×1 ones included.
        C("rmini 3x3 1-16 28 b=256", 256, 1, 28, 16, 3, 1),
        C("rmini 3x3 16-16 28 b=256", 256, 16, 28, 16, 3, 1),
        C("rmini 3x3 16-32 s2 28 b=256", 256, 16, 28, 32, 3, 1, 2),
        C("rmini 1x1 16-32 s2 28 b=256", 256, 16, 28, 32, 1, 0, 2),
        C("rmini 3x3 32-32 14 b=256", 256, 32, 14, 32, 3, 1),
        C("rmini 3x3 32-64 s2 14 b=256", 256, 32, 14, 64, 3, 1, 2),
        C("rmini 1x1 32-64 s2 14 b=256", 256, 32, 14, 64, 1, 0, 2),
        C("rmini 3x3 64-64 7 b=256", 256, 64, 7, 64, 3, 1),
        // MobileNetV2 at 224×224, batch 1: the stem, 1×1 layers from the 112² to the 7² stage, 3×3 depthwise layers.
        C("mnv2 3x3 3-32 s2 224", 1, 3, 224, 32, 3, 1, 2),
        C("shufflenet 3x3 3-24 s2 224", 1, 3, 224, 24, 3, 1, 2),
        // DenseNet-121's bottleneck 1×1 layers: a growing input (64 + 32·k channels) to 128.
        C("densenet 1x1 224-128 56", 1, 224, 56, 128, 1, 0),
        C("densenet 1x1 480-128 28", 1, 480, 28, 128, 1, 0),
        // ResNet-50 (torchvision, stride on the 3×3): every distinct convolution, stage by stage.
        C("r50 7x7 3-64 s2 224", 1, 3, 224, 64, 7, 3, 2),
        C("r50 1x1 64-64 56", 1, 64, 56, 64, 1, 0),
        C("r50 3x3 64-64 56", 1, 64, 56, 64, 3, 1),
        C("r50 1x1 64-256 56", 1, 64, 56, 256, 1, 0),
        C("r50 1x1 256-64 56", 1, 256, 56, 64, 1, 0),
        C("r50 1x1 256-128 56", 1, 256, 56, 128, 1, 0),
        C("r50 3x3 128-128 s2 56", 1, 128, 56, 128, 3, 1, 2),
        C("r50 1x1 256-512 s2 56", 1, 256, 56, 512, 1, 0, 2),
        C("r50 1x1 128-512 28", 1, 128, 28, 512, 1, 0),
        C("r50 1x1 512-128 28", 1, 512, 28, 128, 1, 0),
        C("r50 3x3 128-128 28", 1, 128, 28, 128, 3, 1),
        C("r50 1x1 512-256 28", 1, 512, 28, 256, 1, 0),
        C("r50 3x3 256-256 s2 28", 1, 256, 28, 256, 3, 1, 2),
        C("r50 1x1 512-1024 s2 28", 1, 512, 28, 1024, 1, 0, 2),
        C("r50 1x1 256-1024 14", 1, 256, 14, 1024, 1, 0),
        C("r50 1x1 1024-256 14", 1, 1024, 14, 256, 1, 0),
        C("r50 3x3 256-256 14", 1, 256, 14, 256, 3, 1),
        C("r50 1x1 1024-512 14", 1, 1024, 14, 512, 1, 0),
        C("r50 3x3 512-512 s2 14", 1, 512, 14, 512, 3, 1, 2),
        C("r50 1x1 1024-2048 s2 14", 1, 1024, 14, 2048, 1, 0, 2),
        C("r50 1x1 512-2048 7", 1, 512, 7, 2048, 1, 0),
        C("r50 1x1 2048-512 7", 1, 2048, 7, 512, 1, 0),
        C("r50 3x3 512-512 7", 1, 512, 7, 512, 3, 1),
        C("mnv2 1x1 32-16 112", 1, 32, 112, 16, 1, 0),
        // Three of them at batch 8: alone they run faster than ORT's NCHW node, inside the network slower than its NCHWc one.
        C("mnv2 1x1 32-16 112 b=8", 8, 32, 112, 16, 1, 0),
        C("mnv2 1x1 16-96 112 b=8", 8, 16, 112, 96, 1, 0),
        C("mnv2 1x1 96-24 56 b=8", 8, 96, 56, 24, 1, 0),
        C("mnv2 1x1 16-96 112", 1, 16, 112, 96, 1, 0),
        C("mnv2 1x1 24-144 56", 1, 24, 56, 144, 1, 0),
        C("mnv2 1x1 144-24 56", 1, 144, 56, 24, 1, 0),
        C("mnv2 1x1 32-192 28", 1, 32, 28, 192, 1, 0),
        C("mnv2 1x1 64-384 14", 1, 64, 14, 384, 1, 0),
        C("mnv2 1x1 576-96 14", 1, 576, 14, 96, 1, 0),
        C("mnv2 1x1 960-160 7", 1, 960, 7, 160, 1, 0),
        C("mnv2 1x1 320-1280 7", 1, 320, 7, 1280, 1, 0),
        Depthwise("mnv2 dw 32 112", 1, 32, 112, 1),
        Depthwise("mnv2 dw 96 s2 112", 1, 96, 112, 2),
        Depthwise("mnv2 dw 144 56", 1, 144, 56, 1),
        Depthwise("mnv2 dw 384 14", 1, 384, 14, 1),
        Depthwise("mnv2 dw 960 7", 1, 960, 7, 1),
    ];

    /// <summary>Runs the benchmark (args[0], if given, keeps only cases whose name contains it); returns an exit code.</summary>
    public static int Run(string[] args)
    {
        string filter = args.FirstOrDefault() ?? "";
        double peak = FmaPeak.Measure(Environment.ProcessorCount);
        Console.WriteLine($"Conv2d fp32, path {Cpu.Active}, {Cpu.Threads} threads; measured FMA peak {peak:0.0} GFLOP/s; " +
            $"ONNX Runtime {OrtEnv.Instance().GetVersionString()} ({Environment.ProcessorCount} intra-op threads, no spinning)");
        Console.WriteLine("GFLOP/s = 2·N·M·OH·OW·C/g·kH·kW per pass; best of repeated runs; x ORT = ORT time / our time (above 1: we are faster)");
        Console.WriteLine($"{"case",-24} {"pass",-8} {"all thr",8} {"1 thread",8} {"1 thr cpu",8} {"ms",8} {"% peak",7} {"ORT",8} {"x ORT",6}");
        int failures = 0;
        foreach (var c in Cases.Where(c => c.Name.Contains(filter, StringComparison.Ordinal)))
        {
            var g = c.Geometry;
            var rng = new Rng(1);
            var x = Random(rng, g.Batch * g.InChannels * g.InPixels);
            var w = Random(rng, g.OutChannels * g.ColumnRows);
            var b = Random(rng, g.OutChannels);
            var dy = Random(rng, g.Batch * g.OutChannels * g.OutPixels);
            var y = new float[dy.Length]; var yRef = new float[dy.Length];
            var dx = new float[x.Length]; var dxRef = new float[x.Length];
            var dw = new float[w.Length]; var dwRef = new float[w.Length];
            var db = new float[b.Length];
            using var ort = new OrtConv(g, w, b, x);

            // Inference packs the weight once (Conv2dPackedWeights), as ORT does at session creation.
            var packed = new Conv2dPackedWeights();
            void Forward() => Conv2dKernel.Forward(g, x, w, b, y, default, relu: false, packed);
            void InputGrad() => Conv2dKernel.BackwardInput(g, w, dy, dx, false);
            void WeightGrad()
            {
                Conv2dKernel.BackwardWeight(g, x, dy, dw, false);
                Conv2dKernel.BackwardBias(g, dy, db, false);
            }

            Forward(); InputGrad(); WeightGrad();
            Conv2dReference.Forward(g, x, w, b, yRef);
            Conv2dReference.BackwardInput(g, w, dy, dxRef);
            Conv2dReference.BackwardWeight(g, x, dy, dwRef);
            if (!Close(y, yRef) || !Close(dx, dxRef) || !Close(dw, dwRef) || !Close(ort.Run(), yRef))
            {
                Console.WriteLine($"{c.Name}: MISMATCH against the reference or ONNX Runtime");
                failures++;
                continue;
            }
            var (ours, theirs) = Alternate(Forward, ort.RunDiscard);
            Report(c.Name, "forward", g.Flops, ours, Forward, peak, theirs);
            if (args.Contains("--forward")) continue;
            Report(c.Name, "dx", g.Flops, Timing.MeasureSeconds(InputGrad), InputGrad, peak, null);
            Report(c.Name, "dw + db", g.Flops, Timing.MeasureSeconds(WeightGrad), WeightGrad, peak, null);
        }
        return failures == 0 ? 0 : 1;
    }

    private static void Report(string name, string pass, long flops, double seconds, Action action, double peak, double? ortSeconds)
    {
        int saved = Cpu.Threads;
        Cpu.Threads = 1;
        double one = Timing.MeasureSeconds(action, 0.15);
        // Thread CPU time leaves out what the OS gave other processes: the kernel's own rate on a loaded machine.
        double oneCpu = GemmBench.BestThreadCpuSeconds(action);
        Cpu.Threads = saved;
        double all = flops / seconds / 1e9;
        string ort = ortSeconds is { } t ? $"{flops / t / 1e9,8:0.0} {t / seconds,6:0.00}" : "";
        Console.WriteLine($"{name,-24} {pass,-8} {all,8:0.0} {flops / one / 1e9,8:0.0} {flops / oneCpu / 1e9,8:0.0} {seconds * 1e3,8:0.00} "
            + $"{100 * all / peak,6:0.0}% {ort}");
    }

    // Best seconds per call of each action over alternating rounds, so both see the same machine load.
    private static (double A, double B) Alternate(Action a, Action b, int rounds = 4)
    {
        double bestA = double.MaxValue, bestB = double.MaxValue;
        for (int r = 0; r < rounds; r++)
        {
            bestA = Math.Min(bestA, Timing.MeasureSeconds(a, 0.1));
            bestB = Math.Min(bestB, Timing.MeasureSeconds(b, 0.1));
        }
        return (bestA, bestB);
    }

    private static float[] Random(Rng rng, int count)
    {
        var v = new float[count];
        for (int i = 0; i < count; i++) v[i] = rng.NextFloat() * 2f - 1f;
        return v;
    }

    // Both sum the same products in different orders: allow 1e-4 of the largest magnitude.
    private static bool Close(float[] actual, float[] expected)
    {
        float scale = Math.Max(1f, expected.Max(MathF.Abs));
        for (int i = 0; i < actual.Length; i++)
            if (!(MathF.Abs(actual[i] - expected[i]) <= 1e-4f * scale)) return false;
        return true;
    }

    /// <summary>An ONNX Runtime session on a one-node model: Conv(x, w, b) with w and b as initializers.</summary>
    internal sealed class OrtConv : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly RunOptions _runOptions = new();
        private readonly OrtValue _input;
        private readonly string[] _inputNames = ["x"], _outputNames = ["y"];

        public OrtConv(Conv2dGeometry g, float[] w, float[] b, float[] x)
        {
            var o = g.Options;
            var node = new NodeProto { OpType = "Conv", Name = "conv" };
            node.Input.Add(["x", "w", "b"]);
            node.Output.Add("y");
            node.Attribute.Add(Ints("strides", o.StrideH, o.StrideW));
            node.Attribute.Add(Ints("pads", o.PadTop, o.PadLeft, o.PadBottom, o.PadRight));
            node.Attribute.Add(Ints("dilations", o.DilationH, o.DilationW));
            node.Attribute.Add(Ints("kernel_shape", g.KernelH, g.KernelW));
            node.Attribute.Add(new AttributeProto { Name = "group", Type = AttributeProto.Types.AttributeType.Int, I = o.Groups });
            var graph = new GraphProto { Name = "conv" };
            graph.Node.Add(node);
            graph.Input.Add(Value("x", g.InputShape));
            graph.Output.Add(Value("y", g.OutputShape));
            graph.Initializer.Add(Floats("w", g.WeightShape, w));
            graph.Initializer.Add(Floats("b", [g.OutChannels], b));
            var model = new ModelProto { IrVersion = 8, Graph = graph, ProducerName = "Condense.Bench" };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
            using var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = Environment.ProcessorCount,
            };
            // As in OnnxBench: ORT's threads would otherwise spin after each run and steal the 2 cores from ours.
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            _session = new InferenceSession(model.ToByteArray(), options);
            _input = OrtValue.CreateTensorValueFromMemory(x, g.InputShape.Select(d => (long)d).ToArray());
        }

        /// <summary>The output, copied out.</summary>
        public float[] Run()
        {
            using var outputs = _session.Run(_runOptions, _inputNames, [_input], _outputNames);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        public void RunDiscard()
        {
            using var outputs = _session.Run(_runOptions, _inputNames, [_input], _outputNames);
        }

        public void Dispose() { _session.Dispose(); _runOptions.Dispose(); _input.Dispose(); }

        private static AttributeProto Ints(string name, params long[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.Add(values);
            return a;
        }

        private static ValueInfoProto Value(string name, int[] shape)
        {
            var tensor = new TypeProto.Types.Tensor { ElemType = 1, Shape = new TensorShapeProto() };
            foreach (int d in shape) tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
        }

        private static TensorProto Floats(string name, int[] shape, float[] values)
        {
            var t = new TensorProto { Name = name, DataType = 1 };
            t.Dims.Add(shape.Select(d => (long)d));
            t.FloatData.Add(values);
            return t;
        }
    }
}
