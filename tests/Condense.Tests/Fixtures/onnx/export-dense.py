# A tiny DenseNet written as torchvision's densenet is (BN → ReLU → bias-free 1×1 conv → BN → ReLU → bias-free 3×3 conv,
# every layer reading the Concat of all earlier features; a transition of BN → ReLU → 1×1 conv → average pooling; BN → ReLU
# → global pooling → Linear), in eval mode with batch-norm statistics from a pass over random data, exported by PyTorch 1.13.1
# at opset 13 (the exporter folds each 1×1 conv's following BN into it, so those convs get a bias; the 3×3 convs feed a
# Concat and keep none). Writes dense-op13.onnx, dense.input.npy (2 × 3 × 16 × 16) and dense.expected.npy (PyTorch's logits).
import numpy as np, torch, torch.nn as nn
torch.manual_seed(11)
class Layer(nn.Module):
    def __init__(s, cin, growth=8, width=16):
        super().__init__()
        s.norm1, s.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, width, 1, bias=False)
        s.norm2, s.conv2 = nn.BatchNorm2d(width), nn.Conv2d(width, growth, 3, padding=1, bias=False)
    def forward(s, features):
        x = torch.cat(features, 1)
        x = s.conv1(torch.relu(s.norm1(x)))
        return s.conv2(torch.relu(s.norm2(x)))
class Dense(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv0 = nn.Conv2d(3, 16, 3, padding=1, bias=False); s.norm0 = nn.BatchNorm2d(16)
        s.layers = nn.ModuleList([Layer(16), Layer(24)])
        s.tnorm, s.tconv = nn.BatchNorm2d(32), nn.Conv2d(32, 16, 1, bias=False)
        s.layer3 = Layer(16)
        s.norm5, s.fc = nn.BatchNorm2d(24), nn.Linear(24, 5)
    def forward(s, x):
        features = [torch.relu(s.norm0(s.conv0(x)))]
        for layer in s.layers: features.append(layer(features))
        x = nn.functional.avg_pool2d(s.tconv(torch.relu(s.tnorm(torch.cat(features, 1)))), 2)
        x = torch.cat([x, s.layer3([x])], 1)
        x = torch.relu(s.norm5(x)).mean((2, 3))
        return s.fc(x)
net = Dense()
net.train()
with torch.no_grad():
    for _ in range(4): net(torch.randn(16, 3, 16, 16))
net.eval()
x = torch.randn(2, 3, 16, 16)
torch.onnx.export(net, x, 'dense-op13.onnx', opset_version=13, input_names=['input'], output_names=['logits'],
                  dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
np.save('dense.input.npy', x.numpy())
np.save('dense.expected.npy', net(x).detach().numpy())
