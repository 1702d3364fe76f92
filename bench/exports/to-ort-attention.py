# A PyTorch-exported BERT (all-MiniLM-L6-v2) with each self-attention block rewritten as ONNX Runtime's transformer
# optimizer writes it (no onnxruntime Python package is reachable here): one com.microsoft Attention (Q/K/V weights merged
# [in, 3·hidden]) on a 1-D mask index, ReduceSum(Cast(attention_mask, int32), axis 1) — as in Optimum's model_O2 files.
#   python3 to-ort-attention.py IN.onnx OUT.onnx [--heads N]   (N: 12 by default, all-MiniLM-L6-v2's)
import sys, onnx, numpy as np
from onnx import helper, numpy_helper
m = onnx.load(sys.argv[1]); g = m.graph
prod = {o: n for n in g.node for o in n.output}
cons = {}
for n in g.node:
    for i in n.input: cons.setdefault(i, []).append(n)
init = {t.name: t for t in g.initializer}
def const(name):
    if name in init: return numpy_helper.to_array(init[name])
    n = prod.get(name)
    if n is not None and n.op_type == 'Constant': return numpy_helper.to_array(n.attribute[0].t)
    return None
def linear(t):  # Transpose <- Reshape <- Add(bias, MatMul(x, W))
    r = prod[prod[t].input[0]]; add = prod[r.input[0]]
    mm = [prod[i] for i in add.input if i in prod and prod[i].op_type == 'MatMul'][0]
    b = [i for i in add.input if i in init][0]
    return mm.input[0], const(mm.input[1]), const(b)
mask_nodes = [helper.make_node('Cast', ['attention_mask'], ['mask_i32'], to=6),
              helper.make_node('ReduceSum', ['mask_i32', 'mask_axes'], ['mask_index'], keepdims=0)]
g.initializer.append(numpy_helper.from_array(np.array([1], dtype=np.int64), 'mask_axes'))
new_nodes = []; k = 0
for sm in [n for n in g.node if n.op_type == 'Softmax']:
    add = prod[sm.input[0]]; div = prod[add.input[0]]; qk = prod[div.input[0]]
    x, wq, bq = linear(qk.input[0]); _, wk, bk = linear(qk.input[1])
    pick = lambda v, op: [n for n in cons[v] if n.op_type == op][0]
    ctx = pick(sm.output[0], 'MatMul'); x2, wv, bv = linear(ctx.input[1])
    assert x == x2
    out = pick(pick(ctx.output[0], 'Transpose').output[0], 'Reshape')
    heads = int(sys.argv[sys.argv.index('--heads') + 1]) if '--heads' in sys.argv else 12
    w = np.concatenate([wq, wk, wv], 1); b = np.concatenate([bq, bk, bv])
    g.initializer.extend([numpy_helper.from_array(w, f'attn{k}_w'), numpy_helper.from_array(b, f'attn{k}_b')])
    new_nodes.append((out, helper.make_node('Attention', [x, f'attn{k}_w', f'attn{k}_b', 'mask_index'], [out.output[0]],
                                            name=f'Attention_{k}', domain='com.microsoft', num_heads=heads)))
    k += 1
nodes = list(g.node)
for out, att in new_nodes:
    nodes[nodes.index(out)] = att
del g.node[:]
g.node.extend(mask_nodes + nodes)
# drop nodes nothing reads
while True:
    used = {i for n in g.node for i in n.input} | {o.name for o in g.output}
    dead = [n for n in g.node if not any(o in used for o in n.output)]
    if not dead: break
    for n in dead: g.node.remove(n)
used = {i for n in g.node for i in n.input}
for t in [t for t in g.initializer if t.name not in used]: g.initializer.remove(t)
m.opset_import.append(helper.make_opsetid('com.microsoft', 1))
onnx.save(m, sys.argv[2]); print('attention nodes', k)
