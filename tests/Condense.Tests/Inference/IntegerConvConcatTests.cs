// The integer conv engine on networks that join branches and pool between layers: PyTorch's SqueezeNet Fire module, a tiny
// GoogLeNet with an Inception-v3 reduction block, joins along the height and the width, and Inception-v3's max pool read by
// a layer and a pooling branch (Fixtures/onnx/fire-op13.onnx, inception-op13.onnx, joins-op13.onnx, pools-op13.onnx),
// quantized static (calibrated on normal noise, as the fixtures' inputs), compile
// with every Concat that a quantization reads on codes (each input mapped by a 256-entry table to the Concat's (s, z), as
// ONNX Runtime's QLinearConcat) and every MaxPool on codes — a pool whose input other layers also read is quantized once
// (QuantizedPooling), as is Inception-v3's average-pooling branch (Pad → AveragePool of the Concat's codes, the Pad folded
// into the pool); what runs in float is the global pooling. Step by step, the Concats' codes equal the float simulation's
// exactly and every other code is within one step; end to end the logits stay within 2 % of the simulation's and of
// PyTorch's. CodeTable: the
// table against the formula in double, and its lookup on every path against plain indexing.
using Condense.Graph;
using Condense.Inference;
using Condense.Kernels.Int8Conv;
using Condense.Kernels.Platform;
using Condense.Tensors;
using Xunit.Abstractions;

namespace Condense.Tests.Inference;

public sealed class IntegerConvConcatTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("fire", 12, 12)]
    [InlineData("inception", 24, 24)]
    [InlineData("joins", 10, 12)]
    [InlineData("pools", 16, 16)]
    public void BranchesJoinAndPoolOnCodes(string name, int height, int width)
    {
        var x = Tensor.Normal(new Rng(3), 0f, 1f, 16, 3, height, width);   // as the fixtures' inputs (torch.randn)
        var quantized = StepwiseCodes.QuantizedFixture(name, x);
        var graph = quantized.Graph;
        // Every DequantizeLinear of codes reads them with the (s, z) they were quantized with (QuantizedPooling moves a pool's
        // QuantizeLinear to the (s, z) its input already has, and its DequantizeLinears with it).
        foreach (var dq in graph.Nodes.Where(n => n.OpType == OpTypes.DequantizeLinear && graph.Producer(n.Inputs[0]) is { OpType: OpTypes.QuantizeLinear }))
        {
            var q = graph.Producer(dq.Inputs[0])!;
            Assert.Equal(graph.Initializers[q.Inputs[1]].Data.ToArray(), graph.Initializers[dq.Inputs[1]].Data.ToArray());
            Assert.Equal(graph.Initializers[q.Inputs[2]].Data.ToArray(), graph.Initializers[dq.Inputs[2]].Data.ToArray());
        }
        var engine = IntegerConvModel.Compile(graph);

        // The Concats of codes whose output (through a ReLU) only QuantizeLinears read: GoogLeNet's three (the first is also
        // read by the average-pooling branch, through a DequantizeLinear of the same codes); the joins along the height and
        // the width; not the Fire's (pooled in float) nor the join of the pooled floats before the Linear.
        string? Codes(Node concat)
        {
            string value = concat.Outputs[0];
            while (graph.Consumers(value).ToList() is [{ OpType: OpTypes.Relu } relu]) value = relu.Outputs[0];
            var readers = graph.Consumers(value).ToList();
            bool ofCodes = concat.Inputs.All(i => graph.Producer(i) is { OpType: OpTypes.DequantizeLinear });
            return ofCodes && readers.All(r => r.OpType == OpTypes.QuantizeLinear) ? readers[0].Outputs[0] : null;
        }
        var concats = graph.Nodes.Where(n => n.OpType == OpTypes.Concat && Codes(n) is not null).ToList();
        Assert.Equal(name switch { "fire" or "pools" => 0, "inception" => 3, _ => 2 }, concats.Count);
        var joins = engine.Steps.OfType<IntegerConvModel.RequantizeStep>().Where(r => r.Inputs.Length > 1).ToList();
        Assert.Equal(concats.Select(c => c.Name), joins.Select(j => j.Name));
        Assert.Equal(graph.Nodes.Count(n => n.OpType == OpTypes.MaxPool), engine.Steps.OfType<IntegerConvModel.MaxPoolStep>().Count());
        string[] floatOps = name switch
        {
            "fire" => [OpTypes.Concat, OpTypes.Relu, OpTypes.GlobalAveragePool],
            "inception" => [OpTypes.GlobalAveragePool],
            "pools" => [OpTypes.Concat, OpTypes.GlobalAveragePool],
            _ => [OpTypes.Concat, OpTypes.GlobalAveragePool],
        };
        Assert.All(engine.Steps.OfType<IntegerConvModel.FloatNodeStep>(), f => Assert.Contains(f.Node.OpType, floatOps));
        // Inception-v3's pooling branch (zero Pad → AveragePool of the block's quantized input: a Concat's, or a MaxPool's
        // whose 1×1 layer quantizes it too) pools codes.
        Assert.Equal(name is "inception" or "pools" ? 1 : 0, engine.Steps.OfType<IntegerConvModel.AveragePoolStep>().Count());

        var simulation = StepwiseCodes.Simulate(quantized, x);
        var stepwise = engine.ForwardStepwise(x, simulation);
        foreach (var concat in concats) Assert.Equal(simulation[Codes(concat)!].Data.Select(v => (byte)v), stepwise[Codes(concat)!]);
        StepwiseCodes.AssertWithinOneStep(engine, x, simulation, output);

        StepwiseCodes.AssertLogitsNear(engine, x, simulation, graph.Outputs[0].Name, name, output);
    }

    [Theory]
    [InlineData(0.02f, 0, 0.05f, 128, 0, 255)]      // into a wider, shifted range
    [InlineData(0.05f, 128, 0.02f, 3, 0, 255)]      // into a narrower one: both ends clamp
    [InlineData(0.0137f, 17, 0.0137f, 17, 0, 255)]  // the same quantization: no table
    [InlineData(0.0137f, 100, 0.0099f, 40, 40, 200)] // a ReLU and a Clip after the join: [z', Q(max)]
    public void TheTableIsTheRequantizationFormula(float scale, int zeroPoint, float toScale, int toZeroPoint, int lo, int hi)
    {
        var table = CodeTable.Requantization(scale, (byte)zeroPoint, toScale, (byte)toZeroPoint, (byte)lo, (byte)hi);
        for (int q = 0; q < 256; q++)
        {
            double exact = (q - zeroPoint) * (double)scale / toScale;
            // Round half to even in double; float32's rounding of the product and quotient may only move a value lying at a tie.
            int expected = Math.Clamp((int)Math.Round(exact, MidpointRounding.ToEven) + toZeroPoint, lo, hi);
            int actual = table?[q] ?? q;
            if (Math.Abs(exact - Math.Floor(exact) - 0.5) > 1e-4) Assert.Equal(expected, actual);
            else Assert.InRange(actual, expected - 1, expected + 1);
        }
        Assert.Equal(scale == toScale && zeroPoint == toZeroPoint && lo == 0 && hi == 255, table is null);
    }

    [Theory]
    [InlineData(KernelPath.Scalar)]
    [InlineData(KernelPath.Avx2)]
    [InlineData(KernelPath.Avx512)]
    public void MappingCodesEqualsIndexingTheTable(KernelPath path)
    {
        if (!Cpu.Supports(path)) return;
        var table = CodeTable.Requantization(0.031f, 7, 0.017f, 150)!;
        var rng = new Rng(5);
        foreach (int length in new[] { 0, 1, 63, 64, 65, 200, 1000 })
        {
            var x = new byte[length];
            for (int i = 0; i < length; i++) x[i] = (byte)rng.NextInt(256);
            for (int i = 0; i < Math.Min(length, 256); i++) x[i] = (byte)(255 - i);   // every code, where there is room
            var y = new byte[length];
            using (Cpu.Force(path)) CodeTable.Map(table, x, y);
            Assert.Equal(x.Select(q => table[q]), y);
            using (Cpu.Force(path)) CodeTable.Map(null, x, y);
            Assert.Equal(x, y);
        }
    }
}
