// The integer engine compiles a network for one image size (its buffers and kernels are sized per sample), but an exported
// detector, OCR model or CNN with dynamic height and width takes any. This runs such a model on the integer engine all the
// same: the graph compiled once per image size it meets (its input pinned to that size, the initializers shared), the
// last few sizes kept; a size the engine cannot take (a window larger than the image, a reshape that names a size) runs
// on the float simulation of the same graph.
using Condense.Graph;
using Condense.Nn;
using Condense.Tensors;

namespace Condense.Inference;

/// <summary>An <see cref="IntegerConvModel"/> per input size for a QDQ graph whose input leaves sizes free. Inference only.</summary>
internal sealed class SizedIntegerConvModel : Module
{
    private const int KeptSizes = 8;
    private readonly ModelGraph _qdq;
    private readonly Func<Module> _float;
    private readonly Dictionary<string, Module> _bySize = [];
    private readonly Queue<string> _order = new();
    private Module? _floatRunner;

    private SizedIntegerConvModel(ModelGraph qdq, Func<Module> floatRunner, int[] probe, IntegerConvModel compiled)
    {
        (_qdq, _float) = (qdq, floatRunner);
        Remember(Key(probe), compiled);
        Eval();
    }

    /// <summary>
    /// The model when <paramref name="qdq"/> compiles to the integer engine at a probe size (<see cref="GraphModule.ProbeSampleShape"/>); else null.
    /// <paramref name="floatRunner"/> makes the runner for sizes the engine does not take.
    /// </summary>
    public static SizedIntegerConvModel? TryCreate(ModelGraph qdq, Func<Module> floatRunner)
    {
        // Only a quantized graph (the engine runs nothing else) is worth compiling at the probe size.
        if (qdq.Inputs.Count != 1 || qdq.Inputs[0].Shape is not { Length: > 1 } declared || !declared.AsSpan(1).ContainsAnyInRange(int.MinValue, 0)
            || !qdq.Nodes.Any(n => n.OpType == OpTypes.QuantizeLinear))
            return null;
        int[] probe = GraphModule.ProbeSampleShape(declared);
        try { return new SizedIntegerConvModel(qdq, floatRunner, probe, IntegerConvModel.Compile(Pinned(qdq, probe))); }
        catch (CondenseException) { return null; }
    }

    /// <summary>How many sizes have a compiled integer model now (the tests' view of the cache).</summary>
    internal int CompiledSizes => _bySize.Values.Count(m => m is IntegerConvModel);

    /// <inheritdoc />
    public override Tensor Forward(Tensor input)
    {
        if (Training) throw new CondenseException("the integer engine runs inference only: call Eval() first");
        var declared = _qdq.Inputs[0].Shape;
        if (input.Rank != declared.Length) return FloatRunner().Forward(input);
        int[] sample = input.Shape[1..];
        string key = Key(sample);
        if (!_bySize.TryGetValue(key, out var runner))
        {
            try { runner = IntegerConvModel.Compile(Pinned(_qdq, sample)); }
            catch (CondenseException) { runner = FloatRunner(); }
            Remember(key, runner);
        }
        return runner.Forward(input);
    }

    // The graph with its input pinned to one sample size, sharing the initializers and nodes' tensors.
    private static ModelGraph Pinned(ModelGraph qdq, int[] sample)
    {
        var pinned = GraphPattern.Rewrite(qdq, new Dictionary<Node, IReadOnlyList<Node>>());
        var input = pinned.Inputs[0];
        pinned.Inputs[0] = input with { Shape = [input.Shape[0], .. sample] };
        return pinned;
    }

    private Module FloatRunner()
    {
        if (_floatRunner is null)
        {
            _floatRunner = _float();
            _floatRunner.Eval();
        }
        return _floatRunner;
    }

    private void Remember(string key, Module runner)
    {
        if (_order.Count == KeptSizes) _bySize.Remove(_order.Dequeue());
        _bySize[key] = runner;
        _order.Enqueue(key);
    }

    private static string Key(int[] sample) => string.Join('x', sample);
}
