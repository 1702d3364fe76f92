// Op names of the index family: slicing, splitting, gathering, scattering, searching and the other ops that
// move or pick elements by index (Ops/IndexOps).
namespace Condense.Graph;

public static partial class OpTypes
{
    /// <summary>Slice: elements start, start + step, … before end along the given axes.</summary>
    public const string Slice = "Slice";
}
