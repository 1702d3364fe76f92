# A 2-layer Llama-style decoder written after Hugging Face's modeling_llama: RMSNorm (computed in float32), rotary position
# embeddings from position_ids, grouped-query attention (4 query heads share 2 key/value heads through repeat_kv), the
# softmax in float32 cast back, a SwiGLU feed-forward block down(silu(gate(x)) · up(x)), no biases, an untied head.
# Vocabulary 100, width 16, feed-forward 32, seed 7; exported by PyTorch 1.13.1 at opset 14 as Optimum exports
# text-generation without a cache (inputs input_ids, attention_mask, position_ids; output logits). Writes llama-op14.onnx
# and llama.expected.npy: PyTorch's logits for encoder.input_ids.npy and encoder.attention_mask.npy with position ids
# cumsum(mask) − 1 (clamped at 0).
import math, numpy as np, torch, torch.nn as nn
torch.manual_seed(7)
V, D, H, KV, F, L = 100, 16, 4, 2, 32, 2
HD = D // H
class RMSNorm(nn.Module):
    def __init__(s, d, eps=1e-6): super().__init__(); s.weight = nn.Parameter(torch.ones(d) + 0.1 * torch.randn(d)); s.eps = eps
    def forward(s, x):
        dt = x.dtype; x = x.to(torch.float32)
        var = x.pow(2).mean(-1, keepdim=True)
        return s.weight * (x * torch.rsqrt(var + s.eps)).to(dt)
def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)
def repeat_kv(h, n):
    b, kvh, t, hd = h.shape
    if n == 1: return h
    h = h[:, :, None, :, :].expand(b, kvh, n, t, hd)
    return h.reshape(b, kvh * n, t, hd)
class Attn(nn.Module):
    def __init__(s):
        super().__init__()
        s.q_proj, s.k_proj = nn.Linear(D, H * HD, bias=False), nn.Linear(D, KV * HD, bias=False)
        s.v_proj, s.o_proj = nn.Linear(D, KV * HD, bias=False), nn.Linear(H * HD, D, bias=False)
    def forward(s, x, cos, sin, mask):
        b, t, _ = x.shape
        q = s.q_proj(x).view(b, t, H, HD).transpose(1, 2)
        k = s.k_proj(x).view(b, t, KV, HD).transpose(1, 2)
        v = s.v_proj(x).view(b, t, KV, HD).transpose(1, 2)
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // KV), repeat_kv(v, H // KV)
        w = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(HD) + mask
        w = nn.functional.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(w, v).transpose(1, 2).contiguous().reshape(b, t, D)
        return s.o_proj(o)
class Mlp(nn.Module):
    def __init__(s):
        super().__init__()
        s.gate_proj, s.up_proj, s.down_proj = nn.Linear(D, F, bias=False), nn.Linear(D, F, bias=False), nn.Linear(F, D, bias=False)
    def forward(s, x): return s.down_proj(nn.functional.silu(s.gate_proj(x)) * s.up_proj(x))
class Layer(nn.Module):
    def __init__(s): super().__init__(); s.self_attn, s.mlp, s.input_layernorm, s.post_attention_layernorm = Attn(), Mlp(), RMSNorm(D), RMSNorm(D)
    def forward(s, x, cos, sin, mask):
        x = x + s.self_attn(s.input_layernorm(x), cos, sin, mask)
        return x + s.mlp(s.post_attention_layernorm(x))
class Llama(nn.Module):
    def __init__(s):
        super().__init__()
        s.embed_tokens = nn.Embedding(V, D)
        s.layers = nn.ModuleList(Layer() for _ in range(L))
        s.norm = RMSNorm(D)
        s.lm_head = nn.Linear(D, V, bias=False)
        s.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, HD, 2).float() / HD)), persistent=False)
    def forward(s, input_ids, attention_mask, position_ids):
        b, t = input_ids.shape
        x = s.embed_tokens(input_ids)
        freqs = (s.inv_freq[None, :, None].float().expand(b, -1, 1) @ position_ids[:, None, :].float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        minv = torch.finfo(torch.float32).min
        causal = torch.full((t, t), minv).triu(1)[None, None, :, :].expand(b, 1, t, t)
        pad = attention_mask[:, None, None, :].eq(0)
        mask = causal.masked_fill(pad, minv)
        for layer in s.layers: x = layer(x, cos, sin, mask)
        return s.lm_head(s.norm(x))
net = Llama().eval()
ids, mask = torch.from_numpy(np.load("encoder.input_ids.npy")), torch.from_numpy(np.load("encoder.attention_mask.npy"))
pos = (mask.cumsum(-1) - 1).clamp(min=0)
with torch.no_grad(): np.save("llama.expected.npy", net(ids, mask, pos).numpy())
names = ["input_ids", "attention_mask", "position_ids"]
axes = {n: {0: "batch_size", 1: "sequence_length"} for n in names}; axes["logits"] = {0: "batch_size", 1: "sequence_length"}
torch.onnx.export(net, (ids, mask, pos), "llama-op14.onnx", opset_version=14, input_names=names, output_names=["logits"],
                  dynamic_axes=axes)
