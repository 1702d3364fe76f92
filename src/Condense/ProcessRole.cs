// Whether this process writes the files the user asked for. In a data-parallel run every rank computes the same model,
// and rank 0 alone writes it (and every report): the others set WritesOutputs to false when they join the run. A folder
// a process uses as its own scratch (a checkpoint written to measure its size, then deleted) is declared with Scratch
// and written by every rank; a run ended by MPI_Abort removes the ones declared at that moment.
using System.Collections.Concurrent;

namespace Condense;

/// <summary>This process's part in writing outputs.</summary>
public static class ProcessRole
{
    private static readonly ConcurrentDictionary<string, byte> ScratchFolders = new();

    /// <summary>False on the non-root ranks of a distributed run: <see cref="AtomicFile"/> then skips the user's files.</summary>
    public static bool WritesOutputs { get; set; } = true;

    /// <summary>Whether <paramref name="fullPath"/> is a file this process should write now.</summary>
    public static bool Writes(string fullPath) =>
        WritesOutputs || ScratchFolders.Keys.Any(folder => fullPath.StartsWith(folder, StringComparison.Ordinal));

    /// <summary>Until disposed, files under <paramref name="folder"/> are this process's scratch, written by every rank.</summary>
    public static IDisposable Scratch(string folder)
    {
        string key = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + Path.DirectorySeparatorChar;
        ScratchFolders[key] = 0;
        return new Release(key);
    }

    /// <summary>
    /// Deletes the scratch folders declared now (best effort): a run about to end without unwinding (MPI_Abort) would leave
    /// them behind, as nothing after it runs the callers' cleanup.
    /// </summary>
    public static void RemoveScratch()
    {
        foreach (var folder in ScratchFolders.Keys)
        {
            try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private sealed class Release(string key) : IDisposable
    {
        public void Dispose() => ScratchFolders.TryRemove(key, out _);
    }
}
