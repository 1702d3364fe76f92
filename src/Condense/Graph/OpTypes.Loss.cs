// Loss operators (ONNX opset 12/13): the names of Graph/Ops/LossOps.
namespace Condense.Graph;

public static partial class OpTypes
{
    /// <summary>NegativeLogLikelihoodLoss: −input[n, target[n, …], …] weighted per class, reduced as asked.</summary>
    public const string NegativeLogLikelihoodLoss = "NegativeLogLikelihoodLoss";
    /// <summary>SoftmaxCrossEntropyLoss: NegativeLogLikelihoodLoss of LogSoftmax over axis 1, optionally returning the log-probabilities.</summary>
    public const string SoftmaxCrossEntropyLoss = "SoftmaxCrossEntropyLoss";
}
