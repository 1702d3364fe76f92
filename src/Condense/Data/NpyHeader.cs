// The header of a .npy file (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// a Python dict literal such as {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. This is a
// small parser for exactly that literal (strings, True/False, int tuples), not a Python evaluator.
using System.Globalization;

namespace Condense.Data;

internal readonly record struct NpyHeader(string Descr, bool FortranOrder, int[] Shape)
{
    private static readonly (string Descr, NpyDtype Dtype)[] Dtypes =
    [
        ("<f4", NpyDtype.Float32), ("<f8", NpyDtype.Float64), ("|u1", NpyDtype.UInt8), ("<u1", NpyDtype.UInt8),
        ("<i8", NpyDtype.Int64), ("<i4", NpyDtype.Int32), ("<f2", NpyDtype.Float16), ("|i1", NpyDtype.Int8), ("<i1", NpyDtype.Int8),
        ("<i2", NpyDtype.Int16), ("<u2", NpyDtype.UInt16), ("<u4", NpyDtype.UInt32), ("<u8", NpyDtype.UInt64), ("|b1", NpyDtype.Bool),
    ];

    /// <summary>The descr string numpy writes for <paramref name="dtype"/>.</summary>
    public static string DescrOf(NpyDtype dtype) => Dtypes.First(d => d.Dtype == dtype).Descr;

    /// <summary>The dtype for a descr string, or null when Condense does not support it.</summary>
    public static NpyDtype? DtypeOf(string descr) =>
        Dtypes.Where(d => d.Descr == descr).Select(d => (NpyDtype?)d.Dtype).FirstOrDefault();

    /// <summary>The supported descr strings, for error messages.</summary>
    public static string Supported => string.Join(", ", Dtypes.Select(d => $"'{d.Descr}'"));

    /// <summary>Formats the header dict as numpy does (without padding).</summary>
    public static string Format(NpyDtype dtype, int[] shape)
    {
        string dims = shape.Length == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";
        return $"{{'descr': '{DescrOf(dtype)}', 'fortran_order': False, 'shape': {dims}, }}";
    }

    /// <summary>Parses the header dict; faults come back as one-line messages for InvalidFileException.</summary>
    public static NpyHeader Parse(string text, string path)
    {
        var p = new Parser(text, path);
        string? descr = null; bool? fortran = null; int[]? shape = null;
        p.Expect('{');
        while (!p.TryTake('}'))
        {
            string key = p.String();
            p.Expect(':');
            switch (key)
            {
                case "descr":
                    if (p.Peek() != '\'' && p.Peek() != '"')
                        throw new InvalidFileException(path, "unsupported dtype: structured arrays are not supported");
                    descr = p.String();
                    break;
                case "fortran_order": fortran = p.Bool(); break;
                case "shape": shape = p.IntTuple(); break;
                default: throw p.Fail($"unexpected key '{key}' in the header");
            }
            if (!p.TryTake(',')) { p.Expect('}'); break; }
        }
        if (descr is null || fortran is null || shape is null)
            throw new InvalidFileException(path, "header lacks one of 'descr', 'fortran_order', 'shape'");
        return new NpyHeader(descr, fortran.Value, shape);
    }

    private sealed class Parser(string text, string path)
    {
        private int _pos;

        public char Peek()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
            return _pos < text.Length ? text[_pos] : '\0';
        }

        public bool TryTake(char c)
        {
            if (Peek() != c) return false;
            _pos++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryTake(c)) throw Fail($"expected '{c}'");
        }

        public string String()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"')) throw Fail("expected a quoted string");
            int end = text.IndexOf(quote, _pos + 1);
            if (end < 0) throw Fail("unterminated string");
            string s = text[(_pos + 1)..end];
            _pos = end + 1;
            return s;
        }

        public bool Bool()
        {
            Peek();
            foreach (var (word, value) in new[] { ("True", true), ("False", false) })
                if (string.CompareOrdinal(text, _pos, word, 0, word.Length) == 0) { _pos += word.Length; return value; }
            throw Fail("expected True or False");
        }

        public int[] IntTuple()
        {
            Expect('(');
            var dims = new List<int>();
            while (!TryTake(')'))
            {
                Peek();
                int start = _pos;
                while (_pos < text.Length && (char.IsAsciiDigit(text[_pos]) || text[_pos] == '-')) _pos++;
                if (!int.TryParse(text.AsSpan(start, _pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int d))
                    throw Fail("expected a dimension that fits in an int32");
                if (d < 0) throw new InvalidFileException(path, $"negative dimension {d} in the shape");
                dims.Add(d);
                if (!TryTake(',')) { Expect(')'); break; }
            }
            return [.. dims];
        }

        public InvalidFileException Fail(string what)
        {
            string near = _pos < text.Length ? text[_pos..Math.Min(text.Length, _pos + 16)] : "end of header";
            return new InvalidFileException(path, $"malformed header at character {_pos}: {what}, found '{DataFile.OneLine(near)}'");
        }
    }
}
