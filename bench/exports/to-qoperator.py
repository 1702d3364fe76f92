# A float ONNX model rewritten in the QOperator form ONNX Runtime's quantize_dynamic writes (no onnxruntime Python package
# is reachable here): every MatMul by a constant 2-D weight becomes DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q,
# x_zp, W_zp) -> Cast(float) -> Mul(., Mul(x_scale, W_scale)), int8 weights symmetric per tensor, or with --uint8 uint8
# weights with a zero point from their range (QuantType.QUInt8) — for `bench file`.
#   python3 to-qoperator.py IN.onnx OUT.onnx [--uint8]
import onnx, numpy as np, sys
from onnx import helper, numpy_helper, TensorProto
m = onnx.load(sys.argv[1]); g = m.graph
inits = {i.name: i for i in g.initializer}
new = []; k = 0
for n in g.node:
    if n.op_type == 'MatMul' and n.input[1] in inits and len(inits[n.input[1]].dims) == 2:
        w = numpy_helper.to_array(inits[n.input[1]])
        if '--uint8' in sys.argv:
            lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
            s = (hi - lo) / 255.0; z = int(np.clip(np.round(-lo / s), 0, 255))
            q = np.clip(np.round(w / s) + z, 0, 255).astype(np.uint8); zp = np.array(z, np.uint8)
        else:
            s = float(np.abs(w).max() / 127.0)
            q = np.clip(np.round(w / s), -127, 127).astype(np.int8); zp = np.array(0, np.int8)
        p = f'q{k}'; k += 1
        g.initializer.extend([numpy_helper.from_array(q, p + '.W'), numpy_helper.from_array(np.array(s, np.float32), p + '.Ws'),
                              numpy_helper.from_array(zp, p + '.Wz')])
        new += [helper.make_node('DynamicQuantizeLinear', [n.input[0]], [p + '.xq', p + '.xs', p + '.xz']),
                helper.make_node('MatMulInteger', [p + '.xq', p + '.W', p + '.xz', p + '.Wz'], [p + '.y32']),
                helper.make_node('Cast', [p + '.y32'], [p + '.yf'], to=TensorProto.FLOAT),
                helper.make_node('Mul', [p + '.xs', p + '.Ws'], [p + '.s']),
                helper.make_node('Mul', [p + '.yf', p + '.s'], [n.output[0]])]
    else: new.append(n)
del g.node[:]; g.node.extend(new)
read = {i for n in g.node for i in n.input} | {o.name for o in g.output}
kept = [i for i in g.initializer if i.name in read]   # the float weights replaced are dropped
del g.initializer[:]; g.initializer.extend(kept)
onnx.save(m, sys.argv[2]); print(k, 'MatMuls as MatMulInteger')
