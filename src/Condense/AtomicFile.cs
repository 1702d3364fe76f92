// Files are written atomically everywhere in Condense: into a temp file beside the target, flushed,
// then renamed over it, so a crash or a bad input never leaves a half-written file. A failure names the
// target, never the temp file, which the user did not ask for and which is gone by then. In a distributed run only
// rank 0 writes the user's files (ProcessRole).
namespace Condense;

/// <summary>Atomic file writes.</summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>; the target appears complete or not at all.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        if (!ProcessRole.Writes(full))
        {
            // Another rank writes the file: serialise anyway (the same errors on every rank) and remember its size.
            using var counter = new CountingStream();
            write(counter);
            SkippedLengths[full] = counter.Length;
            return;
        }
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir)) throw new CondenseException($"output folder {dir} does not exist");
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CondenseException($"cannot write {path} ({OutputPaths.Reason(e, temp, full)})", e);
        }
        finally
        {
            try { if (File.Exists(temp)) File.Delete(temp); }
            catch (IOException) { } // best effort: the original exception is the one worth reporting
            catch (UnauthorizedAccessException) { }
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> SkippedLengths = new();

    /// <summary>
    /// The length of the file <paramref name="path"/>, or of the one this process would have written there when rank 0 of
    /// a distributed run writes it (<see cref="ProcessRole"/>).
    /// </summary>
    public static long Length(string path)
    {
        string full = Path.GetFullPath(path);
        return !File.Exists(full) && SkippedLengths.TryGetValue(full, out long length) ? length : new FileInfo(full).Length;
    }

    /// <summary>Writes text (UTF-8) atomically.</summary>
    public static void WriteText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, new System.Text.UTF8Encoding(false), leaveOpen: true); w.Write(text); });

    // A write-only stream that keeps nothing but the number of bytes written.
    private sealed class CountingStream : Stream
    {
        private long _length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => _length += count;
        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;
        public override void WriteByte(byte value) => _length++;
    }
}
