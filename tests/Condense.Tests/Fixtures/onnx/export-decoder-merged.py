# The 2-layer GPT-2 of export-decoder-past.py as Hugging Face Optimum's merged decoder (decoder_model_merged.onnx, the
# layout transformers.js models ship): one If on the input use_cache_branch, its then-branch the decoder with a key/value
# cache, its else-branch the decoder without one (Optimum: then = with past, else = without), each branch holding its
# own weights. Run from this folder after export-decoder-past.py's model definition (imported from it below).
#   python3 export-decoder-merged.py        (Debian's python3-torch, python3-onnx)
import runpy, torch, onnx
from onnx import helper, TensorProto
ns = runpy.run_path('export-decoder-past.py', run_name='decoder')   # writes decoder-past-op14.onnx and the lm.* arrays again
Gpt2, V, H, D, L = ns['Gpt2'], ns['V'], ns['H'], ns['D'], ns['L']
torch.manual_seed(7)
m = Gpt2().eval()
class NoPast(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, input_ids, attention_mask, position_ids):
        b = input_ids.shape[0]
        return s.m(input_ids, attention_mask, position_ids, *[torch.zeros(b, H, 0, D // H) for _ in range(2 * L)])
outs = ['logits'] + [f'present.{i}.{kv}' for i in range(L) for kv in ('key', 'value')]
dyn = {'input_ids': {0: 'batch_size', 1: 'sequence_length'}, 'attention_mask': {0: 'batch_size', 1: 'sequence_length'},
       'position_ids': {0: 'batch_size', 1: 'sequence_length'}, 'logits': {0: 'batch_size', 1: 'sequence_length'}}
for n in outs[1:]: dyn[n] = {0: 'batch_size', 2: 'sequence_length'}
b, s = 2, 5
torch.onnx.export(NoPast(m), (torch.randint(0, V, (b, s)), torch.ones(b, s, dtype=torch.long), torch.arange(s).unsqueeze(0).expand(b, s)),
                  'decoder-nopast.tmp.onnx', opset_version=14, input_names=['input_ids', 'attention_mask', 'position_ids'], output_names=outs,
                  dynamic_axes=dyn)
past, nopast = onnx.load('decoder-past-op14.onnx'), onnx.load('decoder-nopast.tmp.onnx')
inputs = [onnx.ValueInfoProto.FromString(i.SerializeToString()) for i in past.graph.input]
outputs = [onnx.ValueInfoProto.FromString(o.SerializeToString()) for o in past.graph.output]
def branch(model, prefix):
    # Every name the branch makes gets the prefix; the outer inputs it reads keep theirs.
    g = model.graph
    made = {i.name for i in g.initializer} | {o for n in g.node for o in n.output if o}
    rename = lambda name: prefix + name if name in made else name
    for n in g.node:
        n.name = prefix + n.name
        n.input[:] = [rename(x) for x in n.input]
        n.output[:] = [rename(x) for x in n.output]
    for i in g.initializer: i.name = rename(i.name)
    for o in g.output: o.name = rename(o.name)
    return helper.make_graph(list(g.node), prefix + 'body', [], list(g.output), list(g.initializer))
then_branch, else_branch = branch(past, 'with_past/'), branch(nopast, 'without_past/')
inputs += [helper.make_tensor_value_info('use_cache_branch', TensorProto.BOOL, [1])]
node = helper.make_node('If', ['use_cache_branch'], [o.name for o in outputs], name='optimum::if', then_branch=then_branch, else_branch=else_branch)
merged = helper.make_model(helper.make_graph([node], 'merged', inputs, outputs), opset_imports=[helper.make_opsetid('', 14)])
merged.ir_version = past.ir_version
onnx.checker.check_model(merged)
onnx.save(merged, 'decoder-merged-op14.onnx')
import os; os.remove('decoder-nopast.tmp.onnx')
print('written decoder-merged-op14.onnx')
