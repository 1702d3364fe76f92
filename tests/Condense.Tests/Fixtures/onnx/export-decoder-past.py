# A 2-layer GPT-2 as Hugging Face's modeling_gpt2 computes it with a key/value cache, exported as Optimum exports
# "text-generation-with-past": inputs input_ids, attention_mask (past + new tokens), position_ids,
# past_key_values.N.key/value [batch, heads, past, head_dim]; outputs logits, present.N.key/value.
import math, json, numpy as np, torch, torch.nn as nn
torch.manual_seed(7)
V, D, H, L, P = 300, 16, 2, 2, 64
def gelu_new(x): return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
class Attn(nn.Module):
    def __init__(s):
        super().__init__(); s.c_attn = nn.Linear(D, 3 * D); s.c_proj = nn.Linear(D, D)
        s.register_buffer('bias', torch.tril(torch.ones((P, P), dtype=torch.bool)).view(1, 1, P, P))
    def split(s, x): return x.view(x.size()[:-1] + (H, D // H)).permute(0, 2, 1, 3)
    def forward(s, x, mask, pk, pv):
        q, k, v = s.c_attn(x).split(D, dim=2)
        q, k, v = s.split(q), s.split(k), s.split(v)
        k = torch.cat([pk, k], dim=-2); v = torch.cat([pv, v], dim=-2)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D // H)
        ql, kl = q.size(-2), k.size(-2)
        w = torch.where(s.bias[:, :, kl - ql: kl, :kl], w, torch.tensor(torch.finfo(w.dtype).min))
        w = torch.softmax(w + mask, dim=-1)
        a = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous()
        return s.c_proj(a.view(a.size()[:-2] + (D,))), k, v
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.ln_1 = nn.LayerNorm(D); s.attn = Attn(); s.ln_2 = nn.LayerNorm(D); s.c_fc = nn.Linear(D, 4 * D); s.c_proj = nn.Linear(4 * D, D)
    def forward(s, x, mask, pk, pv):
        a, k, v = s.attn(s.ln_1(x), mask, pk, pv)
        x = x + a
        return x + s.c_proj(gelu_new(s.c_fc(s.ln_2(x)))), k, v
class Gpt2(nn.Module):
    def __init__(s):
        super().__init__(); s.wte = nn.Embedding(V, D); s.wpe = nn.Embedding(P, D); s.h = nn.ModuleList([Block() for _ in range(L)]); s.ln_f = nn.LayerNorm(D)
        with torch.no_grad():
            for p in s.parameters(): p.add_(torch.randn_like(p) * 0.1)
    def forward(s, input_ids, attention_mask, position_ids, *past):
        x = s.wte(input_ids) + s.wpe(position_ids)
        m = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        present = []
        for i, b in enumerate(s.h):
            x, k, v = b(x, m, past[2 * i], past[2 * i + 1]); present += [k, v]
        return (torch.matmul(s.ln_f(x), s.wte.weight.t()), *present)
m = Gpt2().eval()
names = [f'past_key_values.{i}.{kv}' for i in range(L) for kv in ('key', 'value')]
outs = ['logits'] + [f'present.{i}.{kv}' for i in range(L) for kv in ('key', 'value')]
b, s, past = 2, 5, 3
dummy = (torch.randint(0, V, (b, s)), torch.ones(b, past + s, dtype=torch.long), torch.arange(past, past + s).unsqueeze(0).expand(b, s),
         *[torch.randn(b, H, past, D // H) for _ in names])
dyn = {'input_ids': {0: 'batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'batch_size', 1: 'past_sequence_length + sequence_length'},
       'position_ids': {0: 'batch_size', 1: 'sequence_length'}, 'logits': {0: 'batch_size', 1: 'sequence_length'}}
for n in names: dyn[n] = {0: 'batch_size', 2: 'past_sequence_length'}
for n in outs[1:]: dyn[n] = {0: 'batch_size', 2: 'past_sequence_length + sequence_length'}
torch.onnx.export(m, dummy, 'decoder-past-op14.onnx', opset_version=14, input_names=['input_ids', 'attention_mask', 'position_ids'] + names,
                  output_names=outs, dynamic_axes=dyn)
# The test passages, tokenized by OpenAI's GPT-2 encoder (gpt-3-encoder's Encoder.js) with the 300-token vocabulary.
rows = [[51,258,267,83,258,81,294,278,220,271,294,265,262,269,265,264,265,220,261,262,285,265,13], [39,68,297,78,262,260,11,290,262,220,268,67]]
T = max(len(r) for r in rows)
ids = torch.tensor([r + [V - 1] * (T - len(r)) for r in rows])
mask = torch.tensor([[1] * len(r) + [0] * (T - len(r)) for r in rows])
pos = torch.arange(T).unsqueeze(0).expand(2, T)
empty = [torch.zeros(2, H, 0, D // H) for _ in names]
with torch.no_grad(): logits = m(ids, mask, pos, *empty)[0]
np.save('lm.input_ids.npy', ids.numpy()); np.save('lm.attention_mask.npy', mask.numpy()); np.save('lm.expected.npy', logits.numpy())
# Perplexity of each row: exp of the mean cross-entropy of token t+1 given tokens ≤ t, over its real tokens.
with torch.no_grad():
    nll = [nn.functional.cross_entropy(logits[i, :len(r) - 1], ids[i, 1:len(r)], reduction='sum').item() for i, r in enumerate(rows)]
total = sum(nll); count = sum(len(r) - 1 for r in rows)
print('nll', nll, 'perplexity', math.exp(total / count))
np.save('lm.perplexity.npy', np.array([math.exp(total / count)], dtype=np.float64))
