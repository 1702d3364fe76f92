// Op names of the index family: slicing, splitting, gathering, scattering, searching and the other ops that
// move or pick elements by index (Ops/IndexOps).
namespace Condense.Graph;

public static partial class OpTypes
{
    /// <summary>Slice: elements start, start + step, … before end along the given axes.</summary>
    public const string Slice = "Slice";
    /// <summary>Split: consecutive parts along an axis, one per output.</summary>
    public const string Split = "Split";
    /// <summary>Tile: the input repeated along every dimension.</summary>
    public const string Tile = "Tile";
    /// <summary>Range: start, start + delta, … before limit.</summary>
    public const string Range = "Range";
    /// <summary>Trilu: the upper or lower triangle of the last two dimensions, the rest zero.</summary>
    public const string Trilu = "Trilu";
    /// <summary>GatherElements: the data element each index names along an axis, in the indices' shape.</summary>
    public const string GatherElements = "GatherElements";
    /// <summary>GatherND: the data slices that tuples of indices name.</summary>
    public const string GatherND = "GatherND";
    /// <summary>ScatterElements: a copy of the data with updates written where GatherElements would read.</summary>
    public const string ScatterElements = "ScatterElements";
    /// <summary>Scatter: opsets 9–10's name of ScatterElements (without reduction).</summary>
    public const string Scatter = "Scatter";
    /// <summary>ScatterND: a copy of the data with updates written into the slices tuples of indices name.</summary>
    public const string ScatterND = "ScatterND";
    /// <summary>OneHot: the on value where the position along a new axis equals the index, the off value elsewhere.</summary>
    public const string OneHot = "OneHot";
    /// <summary>ArgMax: the index of the largest value along an axis (int64).</summary>
    public const string ArgMax = "ArgMax";
    /// <summary>ArgMin: the index of the smallest value along an axis (int64).</summary>
    public const string ArgMin = "ArgMin";
    /// <summary>TopK: the k largest (or smallest) values along an axis and their int64 indices.</summary>
    public const string TopK = "TopK";
    /// <summary>CumSum: running sums along an axis.</summary>
    public const string CumSum = "CumSum";
    /// <summary>CastLike: Cast to the element type of a second input.</summary>
    public const string CastLike = "CastLike";
    /// <summary>Size: the element count as an int64 scalar.</summary>
    public const string Size = "Size";
    /// <summary>EyeLike: ones on a diagonal of a 2-D tensor of the input's shape.</summary>
    public const string EyeLike = "EyeLike";
    /// <summary>NonZero: the int64 coordinates of the non-zero elements.</summary>
    public const string NonZero = "NonZero";
    /// <summary>Compress: the slices along an axis (or elements) a bool condition selects.</summary>
    public const string Compress = "Compress";
    /// <summary>Unique: the distinct elements or slices, with their first indices, inverse indices and counts.</summary>
    public const string Unique = "Unique";
    /// <summary>DepthToSpace: channel blocks moved into spatial blocks.</summary>
    public const string DepthToSpace = "DepthToSpace";
    /// <summary>SpaceToDepth: spatial blocks moved into channels.</summary>
    public const string SpaceToDepth = "SpaceToDepth";
}
