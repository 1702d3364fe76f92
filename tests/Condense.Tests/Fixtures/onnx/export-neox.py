# A 2-layer GPT-NeoX (Pythia) style decoder after Hugging Face's modeling_gpt_neox: parallel residual blocks summed as
# mlp + attn + x (the MLP reads its own layer norm of the block's input, not the attention's output), a fused
# query_key_value projection laid out per head as [q | k | v], rotary positions on a quarter of each head, GELU, an untied
# head. Vocabulary 100, width 16, 4 heads, seed 3; exported by PyTorch 1.13.1 at opset 14 (inputs input_ids and
# attention_mask, output logits). Writes neox-op14.onnx, neox.expected.npy (PyTorch's logits for encoder.input_ids.npy and
# encoder.attention_mask.npy) and neox.layer1.expected.npy (the same network with its first layer removed).
import math, numpy as np, torch, torch.nn as nn
torch.manual_seed(3)
V, D, H, L = 100, 16, 4, 2
HD = D // H; RD = HD // 4
def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)
class Attn(nn.Module):
    def __init__(s):
        super().__init__(); s.query_key_value = nn.Linear(D, 3 * D); s.dense = nn.Linear(D, D)
        s.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, RD, 2).float() / RD)), persistent=False)
    def forward(s, x, mask, pos):
        b, t, _ = x.shape
        qkv = s.query_key_value(x).view(b, t, H, 3 * HD).permute(0, 2, 1, 3)
        q, k, v = qkv[..., :HD], qkv[..., HD:2 * HD], qkv[..., 2 * HD:]
        freqs = pos[:, :, None].float() * s.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1); cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        qr, qp = q[..., :RD], q[..., RD:]; kr, kp = k[..., :RD], k[..., RD:]
        q = torch.cat((qr * cos + rotate_half(qr) * sin, qp), dim=-1); k = torch.cat((kr * cos + rotate_half(kr) * sin, kp), dim=-1)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HD) + mask
        o = torch.matmul(torch.softmax(w, -1), v).permute(0, 2, 1, 3).reshape(b, t, D)
        return s.dense(o)
class Layer(nn.Module):
    def __init__(s):
        super().__init__(); s.input_layernorm, s.post_attention_layernorm = nn.LayerNorm(D), nn.LayerNorm(D); s.attention = Attn()
        s.dense_h_to_4h, s.dense_4h_to_h = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)
    def forward(s, x, mask, pos):
        a = s.attention(s.input_layernorm(x), mask, pos)
        m = s.dense_4h_to_h(nn.functional.gelu(s.dense_h_to_4h(s.post_attention_layernorm(x))))
        return m + a + x
class NeoX(nn.Module):
    def __init__(s):
        super().__init__(); s.embed_in = nn.Embedding(V, D); s.layers = nn.ModuleList(Layer() for _ in range(L)); s.final_layer_norm = nn.LayerNorm(D); s.embed_out = nn.Linear(D, V, bias=False)
    def forward(s, input_ids, attention_mask):
        b, t = input_ids.shape
        pos = torch.arange(t)[None].expand(b, t)
        minv = torch.finfo(torch.float32).min
        mask = torch.full((t, t), minv).triu(1)[None, None].expand(b, 1, t, t).masked_fill(attention_mask[:, None, None, :].eq(0), minv)
        x = s.embed_in(input_ids)
        for layer in s.layers: x = layer(x, mask, pos)
        return s.embed_out(s.final_layer_norm(x))
net = NeoX().eval()
ids, mask = torch.from_numpy(np.load("encoder.input_ids.npy")), torch.from_numpy(np.load("encoder.attention_mask.npy"))
with torch.no_grad():
    np.save("neox.expected.npy", net(ids, mask).numpy())
    first = net.layers[0]; net.layers = nn.ModuleList([net.layers[1]])
    np.save("neox.layer1.expected.npy", net(ids, mask).numpy())
    net.layers = nn.ModuleList([first, net.layers[0]])
names = ["input_ids", "attention_mask"]; axes = {n: {0: "b", 1: "s"} for n in names}; axes["logits"] = {0: "b", 1: "s"}
torch.onnx.export(net, (ids, mask), "neox-op14.onnx", opset_version=14, input_names=names, output_names=["logits"], dynamic_axes=axes)
