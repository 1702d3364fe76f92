# A CNN that computes as Keras does, channels-last, in the form PyTorch's exporter (and tf2onnx after its transpose
# optimizer) writes it: an NHWC input [N, 32, 32, 3] transposed to NCHW, a 3×3 stride-2 conv (3 → 8) with ReLU6, a 3×3
# stride-2 conv (8 → 16) with ReLU, a depthwise 3×3 conv without bias and ReLU, then a transpose back to channels-last, a
# mean over height and width (Keras' GlobalAveragePooling2D) and a Dense layer of 5. Seed 13, PyTorch 1.13.1, opset 13,
# dynamic batch. Writes nhwc-op13.onnx, nhwc.input.npy (2 × 32 × 32 × 3) and nhwc.expected.npy (PyTorch's outputs).
import numpy as np, torch, torch.nn as nn
torch.manual_seed(13)
class ChannelsLastNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1, s.conv2 = nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.Conv2d(8, 16, 3, stride=2, padding=1)
        s.depthwise, s.dense = nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.Linear(16, 5)
    def forward(s, x):
        x = torch.clamp(s.conv1(x.permute(0, 3, 1, 2)), 0, 6)
        x = torch.relu(s.depthwise(torch.relu(s.conv2(x))))
        return s.dense(x.permute(0, 2, 3, 1).mean((1, 2)))
net = ChannelsLastNet().eval()
x = torch.randn(2, 32, 32, 3)
np.save("nhwc.input.npy", x.numpy())
with torch.no_grad(): np.save("nhwc.expected.npy", net(x).numpy())
torch.onnx.export(net, x, "nhwc-op13.onnx", opset_version=13, input_names=["input_1"], output_names=["dense"],
                  dynamic_axes={"input_1": {0: "batch"}, "dense": {0: "batch"}})
