// The names of the ONNX operators the engine knows, as constants: every pass, reader and writer names an op
// through these (a typo is a compile error, and a search finds every user). What each op does, and how it is
// imported, differentiated and exported, is its entry in Ops/OpRegistry.
namespace Condense.Graph;

/// <summary>ONNX operator type names, as they appear in <see cref="Node.OpType"/>.</summary>
public static partial class OpTypes
{
    /// <summary>Add: elementwise sum, broadcasting.</summary>
    public const string Add = "Add";
    /// <summary>AveragePool: average pooling over a window.</summary>
    public const string AveragePool = "AveragePool";
    /// <summary>BatchNormalization: per-channel normalization with running statistics.</summary>
    public const string BatchNormalization = "BatchNormalization";
    /// <summary>Cast: conversion to another element type.</summary>
    public const string Cast = "Cast";
    /// <summary>Clip: clamping to [min, max].</summary>
    public const string Clip = "Clip";
    /// <summary>Concat: joining tensors along an axis.</summary>
    public const string Concat = "Concat";
    /// <summary>Constant: a constant value (an initializer on import).</summary>
    public const string Constant = "Constant";
    /// <summary>ConstantOfShape: a tensor of one value in a given shape.</summary>
    public const string ConstantOfShape = "ConstantOfShape";
    /// <summary>Conv: convolution (1-D and 2-D).</summary>
    public const string Conv = "Conv";
    /// <summary>ConvInteger: integer convolution with zero points.</summary>
    public const string ConvInteger = "ConvInteger";
    /// <summary>DequantizeLinear: integers back to float: (q − zero point) · scale.</summary>
    public const string DequantizeLinear = "DequantizeLinear";
    /// <summary>Div: elementwise quotient, broadcasting.</summary>
    public const string Div = "Div";
    /// <summary>Dropout: random zeroing while training; the identity at inference.</summary>
    public const string Dropout = "Dropout";
    /// <summary>DynamicQuantizeLinear: uint8 quantization with a scale and zero point from the batch.</summary>
    public const string DynamicQuantizeLinear = "DynamicQuantizeLinear";
    /// <summary>DynamicQuantizeMatMul: MatMul of a dynamically uint8-quantized input by int8 weights (com.microsoft).</summary>
    public const string DynamicQuantizeMatMul = "DynamicQuantizeMatMul";
    /// <summary>Erf: the error function.</summary>
    public const string Erf = "Erf";
    /// <summary>Exp: elementwise eˣ.</summary>
    public const string Exp = "Exp";
    /// <summary>Expand: broadcasting to a shape.</summary>
    public const string Expand = "Expand";
    /// <summary>Flatten: reshaping to 2-D at an axis.</summary>
    public const string Flatten = "Flatten";
    /// <summary>Gather: selecting slices by index along an axis.</summary>
    public const string Gather = "Gather";
    /// <summary>Gelu: the Gaussian error linear unit (exact or tanh).</summary>
    public const string Gelu = "Gelu";
    /// <summary>Gemm: α·op(A)·op(B) + β·C.</summary>
    public const string Gemm = "Gemm";
    /// <summary>GlobalAveragePool: the mean over all spatial positions.</summary>
    public const string GlobalAveragePool = "GlobalAveragePool";
    /// <summary>GlobalMaxPool: the maximum over all spatial positions.</summary>
    public const string GlobalMaxPool = "GlobalMaxPool";
    /// <summary>Identity: its input, unchanged.</summary>
    public const string Identity = "Identity";
    /// <summary>LeakyRelu: max(x, α·x).</summary>
    public const string LeakyRelu = "LeakyRelu";
    /// <summary>Log: the natural logarithm.</summary>
    public const string Log = "Log";
    /// <summary>LogSoftmax: the logarithm of softmax along an axis.</summary>
    public const string LogSoftmax = "LogSoftmax";
    /// <summary>MatMul: numpy-style matrix product.</summary>
    public const string MatMul = "MatMul";
    /// <summary>MatMulInteger: integer matrix product with zero points.</summary>
    public const string MatMulInteger = "MatMulInteger";
    /// <summary>MatMulNBits: ONNX Runtime's block-quantized 2–8-bit weight MatMul (com.microsoft).</summary>
    public const string MatMulNBits = "MatMulNBits";
    /// <summary>MaxPool: max pooling over a window.</summary>
    public const string MaxPool = "MaxPool";
    /// <summary>Mul: elementwise product, broadcasting.</summary>
    public const string Mul = "Mul";
    /// <summary>Pad: padding (constant, reflect, edge).</summary>
    public const string Pad = "Pad";
    /// <summary>Pow: elementwise power, broadcasting.</summary>
    public const string Pow = "Pow";
    /// <summary>QGemm: ONNX Runtime's quantized Gemm (com.microsoft).</summary>
    public const string QGemm = "QGemm";
    /// <summary>QLinearConv: quantized convolution.</summary>
    public const string QLinearConv = "QLinearConv";
    /// <summary>QLinearMatMul: quantized matrix product.</summary>
    public const string QLinearMatMul = "QLinearMatMul";
    /// <summary>QuantizeLinear: float to integers: saturate(round(x / scale) + zero point).</summary>
    public const string QuantizeLinear = "QuantizeLinear";
    /// <summary>ReduceMax: the maximum along axes.</summary>
    public const string ReduceMax = "ReduceMax";
    /// <summary>ReduceMean: the mean along axes.</summary>
    public const string ReduceMean = "ReduceMean";
    /// <summary>ReduceMin: the minimum along axes.</summary>
    public const string ReduceMin = "ReduceMin";
    /// <summary>ReduceSum: the sum along axes.</summary>
    public const string ReduceSum = "ReduceSum";
    /// <summary>ReduceSumSquare: the sum of squares along axes.</summary>
    public const string ReduceSumSquare = "ReduceSumSquare";

    /// <summary>ReduceProd: the product along axes.</summary>
    public const string ReduceProd = "ReduceProd";

    /// <summary>Einsum: the Einstein summation of its inputs as its equation names it.</summary>
    public const string Einsum = "Einsum";

    /// <summary>ConvTranspose: the transposed (fractionally strided) convolution.</summary>
    public const string ConvTranspose = "ConvTranspose";

    /// <summary>Resize: nearest, linear or cubic resampling of spatial (or any) axes.</summary>
    public const string Resize = "Resize";

    /// <summary>Upsample: Resize's predecessor (opsets 7–9).</summary>
    public const string Upsample = "Upsample";

    /// <summary>ReduceL1: the sum of absolute values along axes.</summary>
    public const string ReduceL1 = "ReduceL1";

    /// <summary>ReduceL2: the Euclidean norm along axes.</summary>
    public const string ReduceL2 = "ReduceL2";

    /// <summary>ReduceLogSum: the logarithm of the sum along axes.</summary>
    public const string ReduceLogSum = "ReduceLogSum";

    /// <summary>ReduceLogSumExp: the logarithm of the sum of exponentials along axes.</summary>
    public const string ReduceLogSumExp = "ReduceLogSumExp";
    /// <summary>Relu: max(x, 0).</summary>
    public const string Relu = "Relu";
    /// <summary>Reshape: the same data in a new shape.</summary>
    public const string Reshape = "Reshape";
    /// <summary>Shape: the input's dimensions as a 1-D tensor.</summary>
    public const string Shape = "Shape";
    /// <summary>Sigmoid: 1 / (1 + e⁻ˣ).</summary>
    public const string Sigmoid = "Sigmoid";
    /// <summary>Softmax: normalized exponentials along an axis.</summary>
    public const string Softmax = "Softmax";
    /// <summary>Sqrt: the square root.</summary>
    public const string Sqrt = "Sqrt";
    /// <summary>Squeeze: removing dimensions of size 1.</summary>
    public const string Squeeze = "Squeeze";
    /// <summary>Sub: elementwise difference, broadcasting.</summary>
    public const string Sub = "Sub";
    /// <summary>Tanh: the hyperbolic tangent.</summary>
    public const string Tanh = "Tanh";
    /// <summary>Transpose: permuting the axes.</summary>
    public const string Transpose = "Transpose";
    /// <summary>Unsqueeze: inserting dimensions of size 1.</summary>
    public const string Unsqueeze = "Unsqueeze";
}
