// The contents of a safetensors file loaded by SafeTensors.Read: the tensors in header order, looked up
// by name, and the string metadata.
using System.Diagnostics.CodeAnalysis;

namespace Condense.Formats;

/// <summary>All tensors and metadata of a safetensors file, in memory.</summary>
public sealed class SafeTensorFile
{
    private readonly Dictionary<string, SafeTensorEntry> _byName;

    internal SafeTensorFile(string path, IReadOnlyList<SafeTensorEntry> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        Tensors = tensors;
        Metadata = metadata;
        _byName = tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The file the tensors were read from.</summary>
    public string Path { get; }

    /// <summary>The tensors in the order the header lists them.</summary>
    public IReadOnlyList<SafeTensorEntry> Tensors { get; }

    /// <summary>The <c>__metadata__</c> map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensor called <paramref name="name"/>.</summary>
    /// <exception cref="CondenseException">The file has no such tensor.</exception>
    public SafeTensorEntry this[string name] => _byName.TryGetValue(name, out var entry) ? entry
        : throw new CondenseException($"{System.IO.Path.GetFileName(Path)}: no tensor named {SafeTensorEntry.Quote(name)}");

    /// <summary>Looks up a tensor by name.</summary>
    public bool TryGet(string name, [NotNullWhen(true)] out SafeTensorEntry? entry) => _byName.TryGetValue(name, out entry);

    /// <summary>True when the file has a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);
}
