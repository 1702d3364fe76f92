# A tiny GoogLeNet written as torchvision's googlenet is (BasicConv2d = conv → BN → ReLU, folded by the exporter; max pools in
# ceil mode): a stem conv and a 3×3 stride-2 pool whose output is read by three 1×1 convs and by a 3×3 stride-1 pooling
# branch; two Inception blocks (1×1; 1×1 → 3×3; 1×1 → 3×3; pool → 1×1, the second block's pool an average as Inception-v3's,
# which PyTorch exports as Pad → AveragePool) joined by Concat, the first Concat read by the second
# block, the second by a reduction block (Inception-v3's: a stride-2 3×3 conv and a stride-2 3×3 pool of the same input,
# joined by Concat) and a 1×1 conv; then global pooling and Linear. In eval mode with batch-norm statistics from a pass over
# random data, exported by PyTorch 1.13.1 at opset 13. Writes inception-op13.onnx, inception.input.npy (2 × 3 × 24 × 24)
# and inception.expected.npy (PyTorch's logits).
import numpy as np, torch, torch.nn as nn
torch.manual_seed(12)
class Basic(nn.Sequential):
    def __init__(s, cin, cout, k=1, stride=1, padding=0):
        super().__init__(nn.Conv2d(cin, cout, k, stride, padding, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
class Block(nn.Module):
    def __init__(s, cin, b1, b2r, b2, b3r, b3, b4, average=False):
        super().__init__()
        s.branch1 = Basic(cin, b1)
        s.branch2 = nn.Sequential(Basic(cin, b2r), Basic(b2r, b2, 3, padding=1))
        s.branch3 = nn.Sequential(Basic(cin, b3r), Basic(b3r, b3, 3, padding=1))
        # Inception-v3 pools its branch by a 3×3 average that counts the padding, exported as Pad → AveragePool.
        pool = nn.AvgPool2d(3, 1, 1) if average else nn.MaxPool2d(3, 1, 1, ceil_mode=True)
        s.branch4 = nn.Sequential(pool, Basic(cin, b4))
    def forward(s, x):
        return torch.cat([s.branch1(x), s.branch2(x), s.branch3(x), s.branch4(x)], 1)
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = Basic(3, 16, 3, padding=1)
        s.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        s.block1 = Block(16, 8, 6, 12, 4, 8, 4)
        s.block2 = Block(32, 12, 8, 16, 4, 8, 8, average=True)
        s.reduce = Basic(44, 12, 3, stride=2)
        s.head = Basic(56, 24)
        s.fc = nn.Linear(24, 5)
    def forward(s, x):
        x = s.block2(s.block1(s.pool1(s.stem(x))))
        x = s.head(torch.cat([s.reduce(x), nn.functional.max_pool2d(x, 3, 2)], 1))
        return s.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
net = Net()
net.train()
with torch.no_grad():
    for _ in range(4): net(torch.randn(16, 3, 24, 24))
net.eval()
x = torch.randn(2, 3, 24, 24)
torch.onnx.export(net, x, 'inception-op13.onnx', opset_version=13, input_names=['input'], output_names=['logits'],
                  dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
np.save('inception.input.npy', x.numpy())
with torch.no_grad(): np.save('inception.expected.npy', net(x).numpy())
