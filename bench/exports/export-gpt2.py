# A GPT-2-style decoder (Hugging Face's modeling_gpt2 as it computes without a cache: fused Q/K/V projection split in
# three, causal mask by Where, gelu_new written out, tied output head), width 768, 12 heads, 6 layers, GPT-2's vocabulary,
# untrained (seed 7), exported by PyTorch at opset 14 with dynamic batch and length — for `bench file … --tokens 1x128`.
#   python3 export-gpt2.py OUT.onnx
import sys
import math, torch, torch.nn as nn
torch.manual_seed(7)
V, D, H, L, P = 50257, 768, 12, 6, 1024
def gelu_new(x): return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
class Attn(nn.Module):
    def __init__(s):
        super().__init__(); s.c_attn = nn.Linear(D, 3 * D); s.c_proj = nn.Linear(D, D)
        s.register_buffer('bias', torch.tril(torch.ones((P, P), dtype=torch.bool)).view(1, 1, P, P))
    def split(s, x): return x.view(x.size()[:-1] + (H, D // H)).permute(0, 2, 1, 3)
    def forward(s, x, mask):
        q, k, v = s.c_attn(x).split(D, dim=2)
        q, k, v = s.split(q), s.split(k), s.split(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D // H)
        ql, kl = q.size(-2), k.size(-2)
        w = torch.where(s.bias[:, :, kl - ql: kl, :kl], w, torch.tensor(torch.finfo(w.dtype).min))
        w = torch.softmax(w + mask, dim=-1)
        a = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        return s.c_proj(a.view(a.size()[:-2] + (D,)))
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.ln_1 = nn.LayerNorm(D); s.attn = Attn(); s.ln_2 = nn.LayerNorm(D); s.c_fc = nn.Linear(D, 4 * D); s.c_proj = nn.Linear(4 * D, D)
    def forward(s, x, mask):
        x = x + s.attn(s.ln_1(x), mask)
        return x + s.c_proj(gelu_new(s.c_fc(s.ln_2(x))))
class Gpt2(nn.Module):
    def __init__(s):
        super().__init__(); s.wte = nn.Embedding(V, D); s.wpe = nn.Embedding(P, D); s.h = nn.ModuleList([Block() for _ in range(L)]); s.ln_f = nn.LayerNorm(D)
    def forward(s, ids, attention_mask):
        pos = torch.arange(ids.size(1)).unsqueeze(0)
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        x = s.wte(ids) + s.wpe(pos)
        for b in s.h: x = b(x, mask)
        return s.ln_f(x) @ s.wte.weight.t()
m = Gpt2().eval()
ids = torch.randint(0, V, (1, 128)); am = torch.ones(1, 128, dtype=torch.long)
torch.onnx.export(m, (ids, am), sys.argv[1], input_names=['input_ids', 'attention_mask'], output_names=['logits'],
    dynamic_axes={'input_ids': {0: 'b', 1: 't'}, 'attention_mask': {0: 'b', 1: 't'}, 'logits': {0: 'b', 1: 't'}}, opset_version=14)
