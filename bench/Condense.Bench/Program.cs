// Condense benchmarks: `dotnet run -c Release --project bench/Condense.Bench -- <name>`.
// This file only maps a name to a benchmark.
using Condense.Bench;

return args.FirstOrDefault() switch
{
    "gemm" => GemmBench.Run(args[1..]),
    "qgemm" => QGemmBench.Run(args[1..]),
    "conv" => ConvBench.Run(args[1..]),
    "winograd" => WinogradBench.Run(args[1..]),
    "quant" => QuantBench.Run(args[1..]),
    "quant-accuracy" => QuantAccuracyBench.Run(args[1..]),
    "quant-cnn" => QuantCnnBench.Run(args[1..]),
    "qconv" => QConvBench.Run(args[1..]),
    "qdepthwise" => QDepthwiseBench.Run(args[1..]),
    "train" => TrainBench.Run(args[1..]),
    "sparse" => SparseBench.Run(args[1..]),
    "prune" => PruneBench.Run(args[1..]),
    "prune-accuracy" => PruneAccuracyBench.Run(args[1..]),
    "prune-cnn" => PruneCnnBench.Run(args[1..]),
    "deep-compression" => DeepCompressionBench.Run(args[1..]),
    "distill" => DistillBench.Run(args[1..]),
    "onnx" => OnnxBench.Run(args[1..]),
    "file" => FileBench.Run(args[1..]),
    "pool" => PoolBench.Run(args[1..]),
    "cnn" => CnnBench.Run(args[1..]),
    "resnet18" => ResNetBench.Run(args[1..]),
    "fuzz" => FuzzBench.Run(args[1..]),
    "conformance" => ConformanceBench.Run(args[1..]),
    "text-quant" => TextQuantBench.Run(args[1..]),
    "text-compress" => TextCompressBench.Run(args[1..]),
    "image-compress" => ImageCompressBench.Run(args[1..]),
    "int8-resnet" => Int8ResNetBench.Run(args[1..]),
    "real" => RealBench.Run(args[1..]),
    "transformer" => TransformerBench.Run(args[1..]),
    "minilm-diff" => MiniLmDiffBench.Run(args[1..]),
    "distributed" => DistributedBench.Run(args[1..]),
    "stem" => StemBench.Run(args[1..]),
    "distributed-worker" => DistributedWorker.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Condense.Bench <benchmark> [options]   benchmarks: gemm, qgemm, conv, winograd, quant, quant-accuracy, quant-cnn, qconv, " +
        "qdepthwise, stem, train, sparse, prune, prune-accuracy, prune-cnn, deep-compression, distill, onnx, file, pool, cnn, resnet18, fuzz, conformance, " +
        "text-quant, text-compress, image-compress, int8-resnet, real, transformer, minilm-diff, distributed");
    return 2;
}
