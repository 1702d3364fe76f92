# Concats that are not channel joins: two conv branches joined along the height, one branch joined with itself along the
# width, each read by a conv; both pooled and joined with the channels for a Linear. In eval mode, exported by PyTorch
# 1.13.1 at opset 13. Writes joins-op13.onnx, joins.input.npy (2 × 3 × 10 × 12) and joins.expected.npy (PyTorch's logits).
import numpy as np, torch, torch.nn as nn
torch.manual_seed(13)
class Joins(nn.Module):
    def __init__(s):
        super().__init__()
        s.a, s.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 3, padding=1)
        s.h, s.w = nn.Conv2d(8, 6, 3, padding=1), nn.Conv2d(8, 6, 1)
        s.fc = nn.Linear(12, 5)
    def forward(s, x):
        a, b = torch.relu(s.a(x)), torch.relu(s.b(x))
        h = torch.relu(s.h(torch.cat([a, b], 2)))
        w = torch.relu(s.w(torch.cat([a, a], 3)))
        pool = lambda t: torch.flatten(nn.functional.adaptive_avg_pool2d(t, 1), 1)
        return s.fc(torch.cat([pool(h), pool(w)], 1))
net = Joins().eval()
x = torch.randn(2, 3, 10, 12)
torch.onnx.export(net, x, 'joins-op13.onnx', opset_version=13, input_names=['input'], output_names=['logits'],
                  dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
np.save('joins.input.npy', x.numpy())
with torch.no_grad(): np.save('joins.expected.npy', net(x).numpy())
