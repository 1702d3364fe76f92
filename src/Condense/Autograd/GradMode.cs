// Switches gradient recording off for inference and evaluation (torch.no_grad()).
namespace Condense.Autograd;

/// <summary>Controls whether ops record the autograd graph on this thread.</summary>
public static class GradMode
{
    [ThreadStatic] private static bool _disabled;

    /// <summary>True when ops record how to differentiate their results.</summary>
    public static bool Enabled => !_disabled;

    /// <summary>Disables recording until the returned scope is disposed: <c>using (GradMode.NoGrad()) { ... }</c>.</summary>
    public static Scope NoGrad() => new(disable: true);

    /// <summary>Restores the previous mode on dispose.</summary>
    public readonly struct Scope : IDisposable
    {
        private readonly bool _previous;
        internal Scope(bool disable) { _previous = _disabled; _disabled = disable; }
        /// <inheritdoc />
        public void Dispose() => _disabled = _previous;
    }
}
