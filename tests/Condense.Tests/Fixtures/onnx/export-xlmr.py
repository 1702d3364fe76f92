# A 2-layer XLM-RoBERTa-style encoder for the Unigram tokenizer fixture (../text/unigram-tokenizer.json, 601 pieces):
# token embeddings with padding id 1, position ids from the input ids as Hugging Face's create_position_ids_from_input_ids
# computes them (cumulative count of non-padding tokens, offset by the padding id; 66 rows, so 64 tokens at most), an
# embedding layer norm, post-norm layers with erf GELU. Width 16, 4 heads, feed-forward 32, seed 5, exported by PyTorch
# 1.13.1 at opset 14 with inputs input_ids and attention_mask (dynamic batch and sequence), output last_hidden_state.
import math, torch, torch.nn as nn
torch.manual_seed(5)
V, D, H, F, L, P, PAD = 601, 16, 4, 32, 2, 66, 1
class Layer(nn.Module):
    def __init__(s):
        super().__init__()
        s.q, s.k, s.v, s.o = (nn.Linear(D, D) for _ in range(4))
        s.ln1, s.f1, s.f2, s.ln2 = nn.LayerNorm(D), nn.Linear(D, F), nn.Linear(F, D), nn.LayerNorm(D)
    def forward(s, x, mask):
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, H, D // H).permute(0, 2, 1, 3)
        scores = split(s.q(x)) @ split(s.k(x)).transpose(-1, -2) / math.sqrt(D // H) + mask
        c = (torch.softmax(scores, -1) @ split(s.v(x))).permute(0, 2, 1, 3).contiguous().view(b, t, D)
        x = s.ln1(x + s.o(c))
        return s.ln2(x + s.f2(nn.functional.gelu(s.f1(x))))
class Encoder(nn.Module):
    def __init__(s):
        super().__init__()
        s.tok, s.pos, s.ln = nn.Embedding(V, D, padding_idx=PAD), nn.Embedding(P, D, padding_idx=PAD), nn.LayerNorm(D)
        s.layers = nn.ModuleList(Layer() for _ in range(L))
    def forward(s, input_ids, attention_mask):
        m = input_ids.ne(PAD).int()
        positions = (torch.cumsum(m, dim=1).type_as(m) * m).long() + PAD
        x = s.ln(s.tok(input_ids) + s.pos(positions))
        mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in s.layers: x = layer(x, mask)
        return x
net = Encoder().eval()
ids = torch.tensor([[0, 52, 126, 142, 64, 2], [0, 300, 2, 1, 1, 1]])
mask = (ids != PAD).long()
names = ["input_ids", "attention_mask"]
axes = {n: {0: "batch", 1: "sequence"} for n in names + ["last_hidden_state"]}
torch.onnx.export(net, (ids, mask), "xlmr-op14.onnx", opset_version=14, input_names=names, output_names=["last_hidden_state"],
                  dynamic_axes=axes)
