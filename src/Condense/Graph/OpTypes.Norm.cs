// Normalization operators (ONNX Operators.md): the names of Graph/Ops/NormOps.
namespace Condense.Graph;

public static partial class OpTypes
{
    /// <summary>LayerNormalization (opset 17): (x − mean)/√(var + ε)·scale + B over the axes from <c>axis</c> on.</summary>
    public const string LayerNormalization = "LayerNormalization";
    /// <summary>MeanVarianceNormalization (opset 9): (x − mean)/(√var + 1e-9) over <c>axes</c> (default 0, 2, 3).</summary>
    public const string MeanVarianceNormalization = "MeanVarianceNormalization";
    /// <summary>InstanceNormalization (opset 6): per sample and channel over the spatial axes, then scale and B per channel.</summary>
    public const string InstanceNormalization = "InstanceNormalization";
    /// <summary>RMSNormalization (opset 23): x/√(mean(x²) + ε)·scale over the axes from <c>axis</c> on (Zhang &amp; Sennrich 2019).</summary>
    public const string RMSNormalization = "RMSNormalization";
    /// <summary>LRN (opset 1): local response normalization across a window of <c>size</c> channels.</summary>
    public const string LRN = "LRN";
}
