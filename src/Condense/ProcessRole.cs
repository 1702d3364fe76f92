// Whether this process writes the files the user asked for. In a data-parallel run every rank computes the same model,
// and rank 0 alone writes it (and every report): the others set WritesOutputs to false when they join the run. Files
// under the temporary folder are a process's own scratch (a checkpoint written to measure its size) and are written
// by every rank.
namespace Condense;

/// <summary>This process's part in writing outputs.</summary>
public static class ProcessRole
{
    /// <summary>False on the non-root ranks of a distributed run: <see cref="AtomicFile"/> then skips the user's files.</summary>
    public static bool WritesOutputs { get; set; } = true;

    /// <summary>Whether <paramref name="fullPath"/> is a file this process should write now.</summary>
    public static bool Writes(string fullPath) =>
        WritesOutputs || fullPath.StartsWith(Path.GetFullPath(Path.GetTempPath()), StringComparison.Ordinal);
}
