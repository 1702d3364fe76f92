// FusedGemm, the engine's Gemm followed by an activation (Inference/GemmActivationFusion makes it of a Gemm whose output only
// a Relu or an exact Gelu reads, as ONNX Runtime's FusedGemm of a Gemm and its Relu): at inference the bias and the
// activation run on each tile of the output as the GEMM finishes it (Kernels/FloatGemm/GemmEpilogue) instead of as passes
// over it, with the bits of the two ops; with gradients it is the Gemm and then the activation, through autograd.
using Condense.Kernels.FloatGemm;
using Condense.Tensors;

namespace Condense.Graph;

public static partial class GraphOps
{
    /// <summary>FusedGemm(A, B, C?) with Gemm's attributes and activation the op type Relu or Gelu: activation(Gemm(A, B, C)).</summary>
    internal static Tensor FusedGemm(Node node, Tensor?[] inputs)
    {
        var activation = node.Attributes.TryGetValue("activation", out var a) ? a.StringValue : null;
        var kind = activation switch
        {
            OpTypes.Relu => GemmActivation.Relu,
            OpTypes.Gelu => GemmActivation.Gelu,
            _ => throw new CondenseException($"node '{node.Name}' ({node.OpType}): activation '{activation}' (Relu or Gelu)"),
        };
        return Tensor.Gemm(Required(node, inputs, 0), Required(node, inputs, 1), Optional(inputs, 2), node.Float("alpha", 1f),
            node.Float("beta", 1f), node.Int("transA", 0) != 0, node.Int("transB", 0) != 0, kind);
    }
}
