# A small GPT-2-style decoder trained on data/text/corpus.txt, to have a language model whose perplexity means something
# (no pretrained decoder is reachable from the build machines); exported as Optimum exports decoders without a cache
# (input_ids, attention_mask). Reads GPT-2 BPE ids written by Condense's tokenizer (bench/lm/README.md); run as
#   python3 bench/lm/train-gpt.py 2     (epochs; PyTorch 1.13 with OpenBLAS: 7-10 min an epoch on 2 cores)
import math, struct, sys, time, numpy as np, torch, torch.nn as nn
torch.manual_seed(0); torch.set_num_threads(2)
V, D, H, L, P = 50257, 128, 4, 4, 128
def read(path):
    data = open(path, 'rb').read(); out = []; i = 0
    while i < len(data):
        n = struct.unpack_from('<i', data, i)[0]; i += 4
        out.append(list(struct.unpack_from(f'<{n}i', data, i))); i += 4 * n
    return out
train, test = read('/tmp/trainlm/corpus.bin'), read('/tmp/trainlm/fortunes.bin')
class Block(nn.Module):
    def __init__(s):
        super().__init__(); s.ln_1 = nn.LayerNorm(D); s.c_attn = nn.Linear(D, 3 * D); s.c_proj = nn.Linear(D, D)
        s.ln_2 = nn.LayerNorm(D); s.c_fc = nn.Linear(D, 4 * D); s.c_out = nn.Linear(4 * D, D)
        s.register_buffer('causal', torch.tril(torch.ones(P, P, dtype=torch.bool)).view(1, 1, P, P))
    def forward(s, x, mask):
        b, t, _ = x.shape
        q, k, v = s.c_attn(s.ln_1(x)).split(D, dim=2)
        q, k, v = [z.view(b, t, H, D // H).transpose(1, 2) for z in (q, k, v)]
        w = q @ k.transpose(-1, -2) / math.sqrt(D // H)
        w = torch.where(s.causal[:, :, :t, :t], w, torch.tensor(torch.finfo(w.dtype).min)) + mask
        a = (torch.softmax(w, -1) @ v).transpose(1, 2).reshape(b, t, D)
        x = x + s.c_proj(a)
        return x + s.c_out(nn.functional.gelu(s.c_fc(s.ln_2(x)), approximate='tanh'))
class Gpt(nn.Module):
    def __init__(s):
        super().__init__(); s.wte = nn.Embedding(V, D); s.wpe = nn.Embedding(P, D); s.h = nn.ModuleList([Block() for _ in range(L)]); s.ln_f = nn.LayerNorm(D)
        nn.init.normal_(s.wte.weight, std=0.02); nn.init.normal_(s.wpe.weight, std=0.01)
    def forward(s, input_ids, attention_mask):
        t = input_ids.size(1)
        pos = torch.arange(t).unsqueeze(0)
        x = s.wte(input_ids) + s.wpe(pos)
        m = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * torch.finfo(torch.float32).min
        for b in s.h: x = b(x, m)
        return s.ln_f(x) @ s.wte.weight.t()
def batches(rows, size, shuffle):
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    chunks = [order[i:i + size] for i in range(0, len(order), size)]
    if shuffle: np.random.shuffle(chunks)
    for c in chunks:
        T = max(len(rows[i]) for i in c)
        ids = torch.tensor([rows[i] + [50256] * (T - len(rows[i])) for i in c]); mask = torch.tensor([[1] * len(rows[i]) + [0] * (T - len(rows[i])) for i in c])
        yield ids, mask
def nll(model, rows):
    model.eval(); total = count = 0
    with torch.no_grad():
        for ids, mask in batches(rows, 32, False):
            logits = model(ids, mask)[:, :-1]; target = ids[:, 1:]; keep = mask[:, 1:].bool()
            total += nn.functional.cross_entropy(logits[keep], target[keep], reduction='sum').item(); count += keep.sum().item()
    model.train(); return total / count
np.random.seed(0)
model = Gpt(); opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
steps = epochs * math.ceil(len(train) / 32); step = 0
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, (s + 1) / 100) * max(0.05, 1 - s / steps))
for epoch in range(epochs):
    start = time.time()
    for ids, mask in batches(train, 32, True):
        logits = model(ids, mask)[:, :-1]; keep = mask[:, 1:].bool()
        loss = nn.functional.cross_entropy(logits[keep], ids[:, 1:][keep])
        opt.zero_grad(); loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); sched.step(); step += 1
    print(f'epoch {epoch + 1}: {time.time() - start:.0f} s, fortunes perplexity {math.exp(nll(model, test)):.1f}', flush=True)
model.eval()
ids = torch.tensor([train[0]]); mask = torch.ones_like(ids)
torch.onnx.export(model, (ids, mask), '/tmp/trainlm/gpt/model.onnx', opset_version=14, input_names=['input_ids', 'attention_mask'],
    output_names=['logits'], dynamic_axes={'input_ids': {0: 'batch', 1: 'sequence'}, 'attention_mask': {0: 'batch', 1: 'sequence'},
    'logits': {0: 'batch', 1: 'sequence'}})
print('fortunes perplexity (PyTorch, truncated at 128 tokens):', math.exp(nll(model, test)))
