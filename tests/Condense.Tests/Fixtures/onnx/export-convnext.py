# A small ConvNeXt (Liu et al. 2022, as torchvision's convnext writes it): a 4×4 stride-4 stem conv and a channels-first
# layer norm (permute, LayerNorm, permute), two blocks of depthwise 7×7 conv → permute to channels-last → LayerNorm →
# Linear(8 → 32) → GELU → Linear(32 → 8) → layer scale γ → permute back → residual add, then global average pooling,
# a LayerNorm and a Linear head of 5 classes. Width 8, seed 11; exported by PyTorch 1.13.1 at opsets 13 (GELU as
# x · 0.5 · (1 + erf(x / √2)), LayerNorm decomposed) and 17 (LayerNormalization) with a dynamic batch. Writes
# convnext-op13.onnx, convnext-op17.onnx, convnext.input.npy (2 × 3 × 32 × 32) and convnext.expected.npy (PyTorch's logits).
import numpy as np, torch, torch.nn as nn
torch.manual_seed(11)
C, E, K = 8, 32, 5
class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.dw, s.norm = nn.Conv2d(C, C, 7, padding=3, groups=C), nn.LayerNorm(C, eps=1e-6)
        s.fc1, s.fc2 = nn.Linear(C, E), nn.Linear(E, C)
        s.gamma = nn.Parameter(0.5 + torch.rand(C))
    def forward(s, x):
        y = s.dw(x).permute(0, 2, 3, 1)
        y = s.fc2(nn.functional.gelu(s.fc1(s.norm(y)))) * s.gamma
        return x + y.permute(0, 3, 1, 2)
class ConvNeXt(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem, s.stem_norm = nn.Conv2d(3, C, 4, stride=4), nn.LayerNorm(C, eps=1e-6)
        s.blocks = nn.Sequential(Block(), Block())
        s.head_norm, s.head = nn.LayerNorm(C, eps=1e-6), nn.Linear(C, K)
    def forward(s, x):
        x = s.stem_norm(s.stem(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        x = s.blocks(x).mean([2, 3])
        return s.head(s.head_norm(x))
net = ConvNeXt().eval()
x = torch.randn(2, 3, 32, 32)
np.save("convnext.input.npy", x.numpy())
with torch.no_grad(): np.save("convnext.expected.npy", net(x).numpy())
for opset in (13, 17):
    torch.onnx.export(net, x, f"convnext-op{opset}.onnx", opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
