// The one check every command that writes runs before any work: no output may land on an input (real
// paths, symbolic links followed, so a link cannot smuggle the model under another name), and each output
// folder must exist and accept a new file — tried with a probe file, because permission bits say nothing
// for root and nothing for /proc. A failure names the output and its folder, never a temp file.
namespace Condense;

/// <summary>An input file or folder of a run, with the role a user knows it by ("input model", "teacher", "data").</summary>
/// <param name="Role">What the input is, as it appears in messages: "input model", "teacher", "data", …</param>
/// <param name="Path">The path as given (null: not used by this run). A folder stands for the files directly inside it.</param>
public sealed record RunInput(string Role, string? Path);

/// <summary>Checks outputs against inputs and the file system before a run starts.</summary>
public static class OutputPaths
{
    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>
    /// Throws a one-line <see cref="CondenseException"/> when <paramref name="output"/> would overwrite one of
    /// <paramref name="inputs"/> (or a file directly inside an input folder), is a folder, or lies in a folder
    /// that does not exist or cannot be written.
    /// </summary>
    public static void CheckFile(string output, params RunInput[] inputs)
    {
        CheckInputPaths(inputs);
        string real = RealPath(output);
        if (Directory.Exists(real)) throw new CondenseException($"the output {output} is a folder; give a file name");
        foreach (var input in inputs)
        {
            if (input.Path is null) continue;
            string? hit = Overwritten(real, input.Path);
            if (hit is not null) throw new CondenseException($"the output {output} would overwrite the {input.Role} {hit}");
        }
        CheckFolderWritable(Path.GetDirectoryName(Path.GetFullPath(output)) ?? ".");
    }

    /// <summary>
    /// Checks an output folder that a run fills with files of its own: it must not be an input or a file, and it
    /// or, when missing, its nearest existing parent must accept new files. Nothing is created.
    /// </summary>
    public static void CheckFolder(string folder, params RunInput[] inputs)
    {
        CheckInputPaths(inputs);
        string real = RealPath(folder);
        if (File.Exists(real)) throw new CondenseException($"the output folder {folder} is a file");
        foreach (var input in inputs)
            if (input.Path is not null && File.Exists(input.Path) && string.Equals(RealPath(input.Path), real, PathComparison))
                throw new CondenseException($"the output folder {folder} is the {input.Role} {input.Path}");
        string existing = Path.GetFullPath(folder);
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) throw new CondenseException($"cannot create the output folder {folder}: {existing} is a file");
            existing = Path.GetDirectoryName(existing) ?? throw new CondenseException($"cannot create the output folder {folder}");
        }
        if (existing != Path.GetFullPath(folder) && ProbeFailure(existing) is { } reason)
            throw new CondenseException($"cannot create the output folder {folder} in {existing} ({reason})");
        CheckFolderWritable(existing);
    }

    // An input named with a trailing '/' that is not a folder is a mistyped file: say so before any output
    // path derived from it (MODEL/ + ".pruned.safetensors") sends the user looking for a folder.
    private static void CheckInputPaths(RunInput[] inputs)
    {
        foreach (var input in inputs)
            if (input.Path is { Length: > 1 } p && (p.EndsWith('/') || p.EndsWith(Path.DirectorySeparatorChar)) && !Directory.Exists(p))
                throw new CondenseException($"{p} is not a file (a path ending in '{p[^1]}' names a folder)");
    }

    /// <summary>Throws unless <paramref name="folder"/> exists and a new file can be created in it (tried, then removed).</summary>
    public static void CheckFolderWritable(string folder)
    {
        if (File.Exists(folder)) throw new CondenseException($"output folder {folder} is a file, not a folder");
        if (!Directory.Exists(folder)) throw new CondenseException($"output folder {folder} does not exist");
        if (ProbeFailure(folder) is { } reason) throw new CondenseException($"cannot write to the output folder {folder} ({reason})");
    }

    // Why no new file can be created in folder, or null when one can: tried with a probe file, removed at once.
    private static string? ProbeFailure(string folder)
    {
        string probe = Path.Combine(folder, $".condense-probe-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Reason(e, probe, folder);
        }
        finally
        {
            try { if (File.Exists(probe)) File.Delete(probe); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// The absolute path with every symbolic link on the way followed (the file itself and each parent folder), as
    /// far as the path exists; missing trailing parts are appended as given.
    /// </summary>
    public static string RealPath(string path) => RealPath(path, depth: 0);

    /// <summary>
    /// A short reason for an I/O failure with <paramref name="hidden"/> (a temp or probe file) replaced by
    /// <paramref name="shown"/>, so a message never names a file the user did not ask for.
    /// </summary>
    public static string Reason(Exception e, string hidden, string shown) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException or DirectoryNotFoundException => "the folder does not accept new files",
        _ => e.Message.Replace(hidden, shown, StringComparison.Ordinal).Replace(Path.GetFileName(hidden), Path.GetFileName(shown), StringComparison.Ordinal),
    };

    // The input file that writing real (a resolved path) would replace, or null.
    private static string? Overwritten(string real, string input)
    {
        if (Directory.Exists(input))
        {
            foreach (var file in Directory.EnumerateFiles(input))
                if (string.Equals(RealPath(file), real, PathComparison)) return file;
            return null;
        }
        return string.Equals(RealPath(input), real, PathComparison) ? input : null;
    }

    private static string RealPath(string path, int depth)
    {
        // As the kernel gives up on ELOOP after 40 links, so do we, rather than loop on a link cycle.
        if (depth > 40) throw new CondenseException($"too many levels of symbolic links in {path}");
        string full = Path.GetFullPath(path);
        string root = Path.GetPathRoot(full) ?? "";
        string current = root;
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(current, parts[i]);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is not null)
            {
                // The final target may itself sit under linked folders when the link holds an absolute path.
                var target = info.ResolveLinkTarget(returnFinalTarget: true);
                if (target is not null) next = RealPath(target.FullName, depth + 1);
            }
            else if (!info.Exists)
            {
                return Path.Combine([next, .. parts[(i + 1)..]]);
            }
            current = next;
        }
        return current;
    }
}
