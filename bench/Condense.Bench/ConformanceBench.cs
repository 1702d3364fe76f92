// The ONNX backend test suites as a measure (issue 13): every test folder (model.onnx + test_data_set_*/input_*.pb,
// output_*.pb) is imported, run and compared with its expected outputs (rtol 1e-3, atol 1e-5, as the conformance
// tests do). Each test is a pass, a refusal (a one-line CondenseException/InvalidFileException at load or run), a
// wrong answer (it ran and differs) or a crash (any other exception); a few whose data cannot be compared are skipped.
// Wrong answers and crashes are the defects: the exit code is 1 when there is one.
//   dotnet run -c Release --project bench/Condense.Bench -- conformance [SUITE_DIR…] [--list]
// Default suites: node, pytorch-converted, pytorch-operator and simple of Debian's libonnx-testdata (ONNX 1.12).
using System.Text.RegularExpressions;
using Condense.Autograd;
using Condense.Graph;
using Condense.Onnx;
using Condense.Tensors;
using Onnx;

namespace Condense.Bench;

internal static partial class ConformanceBench
{
    private const string DebianData = "/usr/share/libonnx-testdata/data";
    private const double RelativeTolerance = 1e-3, AbsoluteTolerance = 1e-5;

    // Tests whose expected outputs cannot be compared (as KnowinglySkipped of OnnxConformanceTests says): the data
    // stores bfloat16 as UINT16 raw bits, the expected Dropout mask comes from NumPy's random generator, or ONNX 1.12's
    // align_corners reference disagrees with ONNX Runtime and PyTorch.
    private static readonly Dictionary<string, string> Incomparable = new()
    {
        ["test_cast_FLOAT_to_BFLOAT16"] = "bfloat16 output stored as UINT16 raw bits",
        ["test_cast_BFLOAT16_to_FLOAT"] = "bfloat16 input stored as UINT16 raw bits",
        ["test_castlike_FLOAT_to_BFLOAT16"] = "bfloat16 output stored as UINT16 raw bits",
        ["test_castlike_BFLOAT16_to_FLOAT"] = "bfloat16 input stored as UINT16 raw bits",
        ["test_training_dropout"] = "mask from NumPy's random generator",
        ["test_training_dropout_default"] = "mask from NumPy's random generator",
        ["test_training_dropout_default_mask"] = "mask from NumPy's random generator",
        ["test_training_dropout_mask"] = "mask from NumPy's random generator",
        ["test_resize_downsample_scales_linear_align_corners"] = "ONNX 1.12 divides by in·scale; ONNX Runtime and PyTorch by the output length",
        ["test_resize_downsample_scales_cubic_align_corners"] = "ONNX 1.12 divides by in·scale; ONNX Runtime and PyTorch by the output length",
    };

    public static int Run(string[] args)
    {
        bool list = args.Contains("--list");
        var suites = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
        if (suites.Count == 0)
            suites = [.. new[] { "node", "pytorch-converted", "pytorch-operator", "simple" }.Select(s => Path.Combine(DebianData, s))];
        foreach (var suite in suites.Where(s => !Directory.Exists(s)))
        {
            Console.Error.WriteLine($"no test suite at {suite} (install Debian's libonnx-testdata: apt-get install libonnx-testdata)");
            return 1;
        }
        Console.WriteLine($"{"suite",-20} {"tests",6} {"pass",6} {"refused",8} {"wrong",6} {"crash",6} {"skipped",8}");
        int defects = 0;
        foreach (var suite in suites)
        {
            var outcomes = Directory.GetDirectories(suite).Where(d => File.Exists(Path.Combine(d, "model.onnx")))
                .Order(StringComparer.Ordinal)
                .Select(d => (Name: Path.GetFileName(d), Outcome: Outcome(d)))
                .ToList();
            int Count(string kind) => outcomes.Count(o => o.Outcome.Kind == kind);
            Console.WriteLine($"{Path.GetFileName(suite),-20} {outcomes.Count,6} {Count("pass"),6} {Count("refused"),8} " +
                $"{Count("wrong"),6} {Count("crash"),6} {Count("skipped"),8}");
            defects += Count("wrong") + Count("crash");
            // The refusals by their cause: the op (or type, attribute) the one-line message names.
            foreach (var group in outcomes.Where(o => o.Outcome.Kind == "refused").GroupBy(o => Cause(o.Outcome.Message))
                .OrderByDescending(g => g.Count()).Take(list ? int.MaxValue : 12))
                Console.WriteLine($"    refused {group.Count(),4}  {group.Key}");
            foreach (var (name, outcome) in outcomes.Where(o => o.Outcome.Kind is "wrong" or "crash" || (list && o.Outcome.Kind == "refused")))
                Console.WriteLine($"    {outcome.Kind,-8} {name}: {outcome.Message}");
        }
        return defects == 0 ? 0 : 1;
    }

    private static (string Kind, string Message) Outcome(string dir) =>
        Incomparable.TryGetValue(Path.GetFileName(dir), out var why) ? ("skipped", why) : Classify(dir);

    private static (string Kind, string Message) Classify(string dir)
    {
        try
        {
            var module = new GraphModule(OnnxImporter.Import(Path.Combine(dir, "model.onnx")));
            module.Eval();
            var graph = module.Graph;
            foreach (var set in Directory.GetDirectories(dir, "test_data_set_*").Order(StringComparer.Ordinal))
            {
                var inputs = new Dictionary<string, Tensor>();
                for (int i = 0; i < graph.Inputs.Count; i++) inputs[graph.Inputs[i].Name] = Read(set, $"input_{i}.pb");
                Dictionary<string, Tensor> values;
                using (GradMode.NoGrad()) values = module.Run(inputs);
                for (int i = 0; i < graph.Outputs.Count; i++)
                    if (Mismatch(graph.Outputs[i].Name, Read(set, $"output_{i}.pb"), values[graph.Outputs[i].Name]) is { } m)
                        return ("wrong", m);
            }
            return ("pass", "");
        }
        catch (Exception e) when (e is CondenseException or InvalidFileException) { return ("refused", FirstLine(e.Message)); }
        catch (Exception e) { return ("crash", $"{e.GetType().Name}: {FirstLine(e.Message)}"); }
    }

    private static string FirstLine(string message) => message.Split('\n')[0];

    // "unsupported op 'Resize'" and "node 'x' (Resize): …" both name the op; other messages are grouped as they are.
    private static string Cause(string message)
    {
        if (OpName().Match(message) is { Success: true } op) return op.Groups[1].Value;
        if (NodeOp().Match(message) is { Success: true } node) return node.Groups[1].Value;
        return message.Length > 90 ? message[..90] + "…" : message;
    }

    [GeneratedRegex(@"op '([A-Za-z0-9_.]+)'")]
    private static partial Regex OpName();

    [GeneratedRegex(@"\(([A-Za-z0-9_]+)\)")]
    private static partial Regex NodeOp();

    private static Tensor Read(string dir, string file)
    {
        string path = Path.Combine(dir, file);
        return OnnxTensors.ReadTyped(TensorProto.Parser.ParseFrom(File.ReadAllBytes(path)), path);
    }

    private static string? Mismatch(string output, Tensor expected, Tensor actual)
    {
        if (expected.DataType != actual.DataType) return $"output '{output}' is {actual.DataType.OnnxName()}, expected {expected.DataType.OnnxName()}";
        if (!expected.Shape.SequenceEqual(actual.Shape))
            return $"output '{output}' has shape {Shape.Format(actual.Shape)}, expected {Shape.Format(expected.Shape)}";
        for (int j = 0; j < expected.Size; j++)
        {
            if (expected.DataType.Storage() == TensorStorage.Int64)
            {
                if (expected.Int64Data[j] != actual.Int64Data[j]) return $"output '{output}'[{j}] is {actual.Int64Data[j]}, expected {expected.Int64Data[j]}";
                continue;
            }
            double e = expected.GetDouble(j), a = actual.GetDouble(j);
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (!(Math.Abs(a - e) <= AbsoluteTolerance + RelativeTolerance * Math.Abs(e)) && !(a == e))
                return $"output '{output}'[{j}] is {a}, expected {e}";
        }
        return null;
    }
}
