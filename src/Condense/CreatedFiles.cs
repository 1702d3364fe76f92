// What a run has created on disk — folders it made and files it wrote — so an interrupted run can take
// back exactly that and nothing else: a folder that existed before the run stays, and so does every file
// the run did not write.
namespace Condense;

/// <summary>Records the folders and files a run creates, and removes them on <see cref="RemoveAll"/>.</summary>
public sealed class CreatedFiles
{
    private readonly List<string> _folders = [];
    private readonly List<string> _files = [];

    /// <summary>Creates <paramref name="folder"/> and any missing parents, remembering the ones that did not exist.</summary>
    public void CreateFolder(string folder)
    {
        var missing = new List<string>();
        for (string? f = Path.GetFullPath(folder); f is not null && !Directory.Exists(f); f = Path.GetDirectoryName(f)) missing.Add(f);
        Directory.CreateDirectory(folder);
        _folders.AddRange(missing);   // deepest first, the order they must be removed in
    }

    /// <summary>Remembers that the run wrote <paramref name="file"/>.</summary>
    public string Wrote(string file)
    {
        if (!_files.Contains(file)) _files.Add(file);
        return file;
    }

    /// <summary>The files written so far.</summary>
    public IReadOnlyList<string> Files => _files;

    /// <summary>
    /// Deletes the files written and the folders created (a created folder only once it is empty again, so
    /// anything another program put there meanwhile survives). Best effort: what cannot be removed stays.
    /// </summary>
    public void RemoveAll()
    {
        foreach (var file in _files)
        {
            try { File.Delete(file); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        foreach (var folder in _folders)
        {
            try { if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any()) Directory.Delete(folder); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        _files.Clear();
        _folders.Clear();
    }
}
