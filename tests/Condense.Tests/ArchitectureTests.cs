// Dependencies point one way (docs/STYLE.md): the low layers never mention the high ones, and the
// library never references the CLI. Checked by reflection over every type's signatures (base types,
// interfaces, fields, properties, events, method and constructor signatures, generic arguments) and
// over the members that method bodies touch (calls, field accesses, type tokens in the IL).
using System.Reflection;
using System.Reflection.Emit;
using Condense.Tensors;

namespace Condense.Tests;

public sealed class ArchitectureTests
{
    private static readonly Assembly Library = typeof(Tensor).Assembly;

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
        BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static bool InNamespace(Type t, string ns) =>
        t.Namespace is { } n && (n == ns || n.StartsWith(ns + ".", StringComparison.Ordinal));

    // A type and everything it is built from: element types of arrays/pointers/byrefs, generic arguments.
    private static IEnumerable<Type> Expand(Type? t)
    {
        if (t is null) yield break;
        if (t.HasElementType) { foreach (var e in Expand(t.GetElementType())) yield return e; yield break; }
        if (t.IsGenericType && !t.IsGenericTypeDefinition)
        {
            yield return t.GetGenericTypeDefinition();
            foreach (var a in t.GetGenericArguments()) foreach (var e in Expand(a)) yield return e;
            yield break;
        }
        if (!t.IsGenericParameter) yield return t;
    }

    private static IEnumerable<Type> SignatureTypes(Type type)
    {
        yield return type.BaseType!;
        foreach (var i in type.GetInterfaces()) yield return i;
        foreach (var a in type.GetCustomAttributesData()) yield return a.AttributeType;
        foreach (var f in type.GetFields(All)) yield return f.FieldType;
        foreach (var p in type.GetProperties(All)) yield return p.PropertyType;
        foreach (var e in type.GetEvents(All)) yield return e.EventHandlerType!;
        foreach (var m in Methods(type))
        {
            if (m is MethodInfo mi) yield return mi.ReturnType;
            foreach (var p in m.GetParameters()) yield return p.ParameterType;
            if (m.GetMethodBody() is { } body)
                foreach (var local in body.LocalVariables) yield return local.LocalType;
        }
    }

    private static IEnumerable<MethodBase> Methods(Type type) =>
        type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All));

    // Operand sizes of every IL opcode, from System.Reflection.Emit.OpCodes.
    private static readonly Dictionary<short, OpCode> OpCodeTable = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    // The types named by the member and type tokens in a method's IL.
    private static IEnumerable<Type> BodyTypes(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        var typeArgs = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        int pos = 0;
        while (pos < il.Length)
        {
            short value = il[pos] == 0xFE ? (short)(0xFE00 | il[pos + 1]) : il[pos];
            var op = OpCodeTable[value];
            pos += op.Size;
            int operand = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, pos),
                _ => 4,
            };
            if (op.OperandType is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
            {
                int token = BitConverter.ToInt32(il, pos);
                MemberInfo? member = null;
                try { member = method.Module.ResolveMember(token, typeArgs, methodArgs); }
                catch (ArgumentException) { }
                switch (member)
                {
                    case Type t: yield return t; break;
                    case FieldInfo f: yield return f.DeclaringType!; yield return f.FieldType; break;
                    case MethodInfo m:
                        yield return m.DeclaringType!; yield return m.ReturnType;
                        foreach (var p in m.GetParameters()) yield return p.ParameterType;
                        break;
                    case ConstructorInfo c: yield return c.DeclaringType!; break;
                }
            }
            pos += operand;
        }
    }

    private static List<string> Violations(string layer, params string[] forbidden)
    {
        var found = new List<string>();
        foreach (var type in Library.GetTypes().Where(t => InNamespace(t, layer)))
        {
            var referenced = SignatureTypes(type).Concat(Methods(type).SelectMany(BodyTypes)).SelectMany(Expand);
            foreach (var r in referenced.Distinct())
                if (forbidden.Any(f => InNamespace(r, f))) found.Add($"{type.FullName} → {r.FullName}");
        }
        return found;
    }

    [Fact]
    public void TheScanSeesCrossLayerReferences()
    {
        // Sanity check of the scanner itself: Nn does use Tensors, Graph does use Nn.
        Assert.NotEmpty(Violations("Condense.Nn", "Condense.Tensors"));
        Assert.NotEmpty(Violations("Condense.Graph", "Condense.Nn"));
        Assert.NotEmpty(Violations("Condense.Optim", "Condense.Nn"));
        // Shape is used only inside Losses' method bodies, so finding it proves the IL scan works.
        Assert.Contains(typeof(Shape), Methods(typeof(Condense.Nn.Losses)).SelectMany(BodyTypes));
    }

    // The library's layers, lowest first: a layer may reference only the layers before it and the root namespace
    // Condense (CondenseException, AtomicFile, OutputPaths, CreatedFiles), which references none. Why this order:
    // - Kernels are the bottom: spans and arrays in, spans and arrays out.
    // - Tensors and Autograd are one layer: every tensor op records its gradient (Autograd's GradMode says
    //   whether to), and backward walks Tensors.
    // - Data yields tensors; Nn builds modules from tensor ops; Optim steps their parameters; Training runs
    //   the loop over all three.
    // - Graph is the IR and its executor (over Nn modules); Onnx reads and writes it; Formats is the file
    //   front door above both (safetensors, checkpoints, dispatch by extension).
    // - Reports measure any model; the passes and the demo report, so Reports sits below them. Plots draws charts and
    //   the HTML report from plain numbers, weights and training epochs, so every pass and the demo can use it.
    // - Inference compiles graphs to the integer engines; the quantization pass measures with it.
    // - Calibration gathers what the data-driven passes need of each layer's inputs (Hessians, channel ranges) for
    //   pruning (Wanda, SparseGPT) and quantization (GPTQ, AWQ, SmoothQuant) alike.
    // - The passes are ordered too, so a pass never reaches into another one that is not below it:
    //   Pruning < Quantization < DeepCompression (weight sharing prunes' zeros stay zero) < Distillation
    //   (a student from a pruned teacher) < Demo (all of them).
    private static readonly string[][] Layers =
    [
        ["Kernels"],
        ["Distributed"],
        ["Tensors", "Autograd"],
        ["Data"],
        ["Nn"],
        ["Optim"],
        ["Training"],
        ["Graph"],
        ["Onnx"],
        ["Formats"],
        ["Reports"],
        ["Plots"],
        ["Inference"],
        ["Calibration"],
        ["Pruning"],
        ["Quantization"],
        ["DeepCompression"],
        ["Distillation"],
        ["Demo"],
    ];

    // References against the order, allowed with a reason (none today). The passes may reference Formats (it is below
    // them) but do not save the caller's files: callers save; only DistillPipeline writes temporary checkpoints to
    // measure each student's file size.
    private static readonly (string From, string To)[] Pending = [];

    private static string Ns(string layer) => "Condense." + layer;

    [Fact]
    public void EveryNamespaceIsALayer()
    {
        var known = Layers.SelectMany(l => l).Select(Ns).ToList();
        var unlisted = Library.GetTypes()
            .Where(t => t.Namespace is { } n && n != "Condense" && !known.Any(k => InNamespace(t, k)))
            .Select(t => t.FullName).ToList();
        Assert.True(unlisted.Count == 0, "not in any layer: " + string.Join("; ", unlisted));
    }

    [Fact]
    public void EachLayerReferencesOnlyTheLayersBelowIt()
    {
        var found = new List<string>();
        for (int low = 0; low < Layers.Length; low++)
            for (int high = low + 1; high < Layers.Length; high++)
                foreach (string from in Layers[low])
                    foreach (string to in Layers[high])
                        if (!Pending.Contains((from, to))) found.AddRange(Violations(Ns(from), Ns(to)));
        Assert.True(found.Count == 0, string.Join("; ", found));
        // The rule is not vacuous: the scan sees references downwards between neighbours and across the order.
        Assert.NotEmpty(Violations("Condense.Formats", "Condense.Onnx"));
        Assert.NotEmpty(Violations("Condense.Quantization", "Condense.Inference"));
        Assert.NotEmpty(Violations("Condense.Demo", "Condense.Distillation"));
        Assert.NotEmpty(Violations("Condense.Tensors", "Condense.Kernels"));
    }

    [Fact]
    public void TheRootNamespaceReferencesNoLayer()
    {
        var found = new List<string>();
        foreach (var type in Library.GetTypes().Where(t => t.Namespace == "Condense"))
        {
            var referenced = SignatureTypes(type).Concat(Methods(type).SelectMany(BodyTypes)).SelectMany(Expand);
            foreach (var r in referenced.Distinct())
                if (r.Namespace is { } n && n.StartsWith("Condense.", StringComparison.Ordinal)) found.Add($"{type.FullName} → {r.FullName}");
        }
        Assert.True(found.Count == 0, string.Join("; ", found));
    }

    [Fact]
    public void LibraryDoesNotReferenceTheCli()
    {
        var cli = Assembly.Load("Condense.Cli");
        Assert.DoesNotContain(Library.GetReferencedAssemblies(), a => a.Name == cli.GetName().Name);
        Assert.DoesNotContain(Library.GetReferencedAssemblies(), a => a.Name!.StartsWith("Spectre", StringComparison.Ordinal));
        // The reverse reference exists, so the check above is not vacuous.
        Assert.Contains(cli.GetReferencedAssemblies(), a => a.Name == Library.GetName().Name);
        Assert.All(Library.GetTypes(), t => Assert.False(InNamespace(t, "Condense.Cli"), t.FullName));
    }
}
