// The base of every layer and model, after torch.nn.Module: sub-modules, parameters and buffers are
// registered explicitly by name, which gives the dotted names ("1.weight") used by state dicts,
// checkpoints, the graph view and every compression pass.
using Condense.Tensors;

namespace Condense.Nn;

/// <summary>A layer or model: a function of its input with named parameters, buffers and sub-modules.</summary>
public abstract class Module
{
    private readonly List<KeyValuePair<string, Parameter>> _parameters = [];
    private readonly List<KeyValuePair<string, Tensor>> _buffers = [];
    private readonly List<KeyValuePair<string, Module>> _modules = [];

    /// <summary>True in training mode (dropout active), false in evaluation mode.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Computes the module's output.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>Registers a trainable parameter under <paramref name="name"/>.</summary>
    protected Parameter RegisterParameter(string name, Parameter parameter)
    {
        CheckName(name);
        _parameters.Add(new(name, parameter));
        return parameter;
    }

    /// <summary>Registers a non-trainable tensor saved with the weights (a mask, running statistics).</summary>
    protected Tensor RegisterBuffer(string name, Tensor buffer)
    {
        CheckName(name);
        _buffers.Add(new(name, buffer));
        return buffer;
    }

    /// <summary>Registers a sub-module under <paramref name="name"/>.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _modules.Add(new(name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("registered names must not be empty");
        if (_parameters.Any(p => p.Key == name) || _buffers.Any(b => b.Key == name) || _modules.Any(m => m.Key == name))
            throw new ArgumentException($"'{name}' is already registered on {GetType().Name}");
    }

    /// <summary>Direct sub-modules with their names.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _modules.Select(m => (m.Key, m.Value));

    /// <summary>This module and all descendants, with dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        yield return (prefix, this);
        foreach (var (name, child) in _modules)
            foreach (var item in child.NamedModules(Join(prefix, name)))
                yield return item;
    }

    /// <summary>All parameters with dotted names, this module's first, then each child's in order.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters(string prefix = "")
    {
        foreach (var (name, p) in _parameters) yield return (Join(prefix, name), p);
        foreach (var (name, child) in _modules)
            foreach (var item in child.NamedParameters(Join(prefix, name)))
                yield return item;
    }

    /// <summary>All parameters.</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>All buffers with dotted names.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "")
    {
        foreach (var (name, b) in _buffers) yield return (Join(prefix, name), b);
        foreach (var (name, child) in _modules)
            foreach (var item in child.NamedBuffers(Join(prefix, name)))
                yield return item;
    }

    /// <summary>Parameters and buffers by dotted name: what a checkpoint stores. Tensors are shared, not copied.</summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (name, p) in NamedParameters()) state[name] = p;
        foreach (var (name, b) in NamedBuffers()) state[name] = b;
        return state;
    }

    /// <summary>
    /// Copies values into this module's parameters and buffers. With <paramref name="strict"/>, every
    /// name must match both ways; shapes must always match.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = StateDict();
        if (strict)
        {
            var missing = own.Keys.Where(k => !state.ContainsKey(k)).ToList();
            var unexpected = state.Keys.Where(k => !own.ContainsKey(k)).ToList();
            if (missing.Count > 0) throw new CondenseException($"state dict is missing {string.Join(", ", missing)}");
            if (unexpected.Count > 0) throw new CondenseException($"state dict has unexpected entries {string.Join(", ", unexpected)}");
        }
        foreach (var (name, target) in own)
        {
            if (!state.TryGetValue(name, out var source)) continue;
            if (!Shape.Equal(source.Shape, target.Shape))
                throw new CondenseException($"'{name}' has shape {Shape.Format(source.Shape)} in the state dict but {Shape.Format(target.Shape)} in the model");
            source.Data.CopyTo(target.Data, 0);
            target.MarkModified();
        }
    }

    /// <summary>Sets training mode on this module and all descendants.</summary>
    public Module Train(bool training = true)
    {
        foreach (var (_, m) in NamedModules()) m.Training = training;
        return this;
    }

    /// <summary>Sets evaluation mode (dropout off).</summary>
    public Module Eval() => Train(false);

    /// <summary>Clears the gradients of all parameters.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ClearGrad();
    }

    /// <summary>The number of parameter elements.</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Size);

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;
}
