# Inception-v3's stem-to-block join in miniature: a stem conv (conv → BN → ReLU, folded by the exporter) and a 3×3 stride-2
# max pool whose output is read by a 1×1 conv and by a pooling branch (a 3×3 stride-1 average that counts the padding,
# which PyTorch exports as Pad → AveragePool, then a 1×1 conv), the two joined by Concat; then global pooling and Linear.
# In eval mode with batch-norm statistics from a pass over random data, exported by PyTorch 1.13.1 at opset 13. Writes
# pools-op13.onnx, pools.input.npy (2 × 3 × 16 × 16) and pools.expected.npy (PyTorch's logits).
import numpy as np, torch, torch.nn as nn
torch.manual_seed(14)
def basic(cin, cout, k=1, padding=0):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem, s.pool = basic(3, 16, 3, padding=1), nn.MaxPool2d(3, 2)
        s.branch1, s.branch_pool = basic(16, 8), nn.Sequential(nn.AvgPool2d(3, 1, 1), basic(16, 8))
        s.fc = nn.Linear(16, 5)
    def forward(s, x):
        x = s.pool(s.stem(x))
        x = torch.cat([s.branch1(x), s.branch_pool(x)], 1)
        return s.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
net = Net()
net.train()
with torch.no_grad():
    for _ in range(4): net(torch.randn(16, 3, 16, 16))
net.eval()
x = torch.randn(2, 3, 16, 16)
torch.onnx.export(net, x, 'pools-op13.onnx', opset_version=13, input_names=['input'], output_names=['logits'],
                  dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
np.save('pools.input.npy', x.numpy())
with torch.no_grad(): np.save('pools.expected.npy', net(x).numpy())
