# A 2-layer MPNet-style encoder written as Hugging Face's modeling_mpnet computes it: one relative-position bias table
# [32 buckets, heads] shared by every layer (the bias is computed once by the encoder, expanded to [batch, heads, q, k] and
# added to each layer's scores), position ids from the input ids as RoBERTa's (padding id 1), post-norm layers, erf GELU.
# Vocabulary 100, width 16, 4 heads, feed-forward 32, seed 3, exported by PyTorch 1.13.1 at opset 14 with inputs
# input_ids and attention_mask (dynamic batch and sequence), output last_hidden_state. Writes relbias-op14.onnx and
# relbias.expected.npy: PyTorch's output for encoder.input_ids.npy and encoder.attention_mask.npy.
import math, numpy as np, torch, torch.nn as nn
torch.manual_seed(3)
V, D, H, F, L, B = 100, 16, 4, 32, 2, 32
def bucket(relative_position, num_buckets=B, max_distance=128):
    ret, n = 0, -relative_position
    num_buckets //= 2
    ret += (n < 0).to(torch.long) * num_buckets
    n = torch.abs(n)
    max_exact = num_buckets // 2
    large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return ret + torch.where(n < max_exact, n, large)
class Layer(nn.Module):
    def __init__(s):
        super().__init__()
        s.q, s.k, s.v, s.o = (nn.Linear(D, D) for _ in range(4))
        s.ln1, s.f1, s.f2, s.ln2 = nn.LayerNorm(D), nn.Linear(D, F), nn.Linear(F, D), nn.LayerNorm(D)
    def forward(s, x, mask, position_bias):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, H, D // H).permute(0, 2, 1, 3)
        scores = split(s.q(x)) @ split(s.k(x)).transpose(-1, -2) / math.sqrt(D // H)
        scores = scores + position_bias
        scores = scores + mask
        c = (torch.softmax(scores, -1) @ split(s.v(x))).permute(0, 2, 1, 3).contiguous().view(b, t, D)
        x = s.ln1(s.o(c) + x)
        return s.ln2(s.f2(nn.functional.gelu(s.f1(x))) + x)
class Encoder(nn.Module):
    def __init__(s):
        super().__init__()
        s.tok, s.pos, s.ln = nn.Embedding(V, D, padding_idx=1), nn.Embedding(64, D, padding_idx=1), nn.LayerNorm(D)
        s.layers, s.relative_attention_bias = nn.ModuleList([Layer() for _ in range(L)]), nn.Embedding(B, H)
    def forward(s, input_ids, attention_mask):
        m = input_ids.ne(1).int()
        positions = (torch.cumsum(m, dim=1).type_as(m) * m).long() + 1
        x = s.ln(s.tok(input_ids) + s.pos(positions))
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        b, t = input_ids.shape
        relative = torch.arange(t, dtype=torch.long)[None, :] - torch.arange(t, dtype=torch.long)[:, None]
        values = s.relative_attention_bias(bucket(relative)).permute([2, 0, 1]).unsqueeze(0)
        position_bias = values.expand((b, -1, t, t)).contiguous()
        for layer in s.layers: x = layer(x, mask, position_bias)
        return x
net = Encoder().eval()
with torch.no_grad():
    for p in net.parameters(): p.add_(torch.randn_like(p) * 0.1)
ids = torch.from_numpy(np.load('encoder.input_ids.npy'))
mask = torch.from_numpy(np.load('encoder.attention_mask.npy'))
dynamic = {n: {0: 'batch', 1: 'sequence'} for n in ['input_ids', 'attention_mask', 'last_hidden_state']}
torch.onnx.export(net, (ids, mask), 'relbias-op14.onnx', opset_version=14, input_names=['input_ids', 'attention_mask'],
                  output_names=['last_hidden_state'], dynamic_axes=dynamic)
np.save('relbias.expected.npy', net(ids, mask).detach().numpy())
