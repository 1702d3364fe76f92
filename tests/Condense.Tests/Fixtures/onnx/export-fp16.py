# mlp128.onnx (PyTorch's export) stored in float16 two ways, as onnxconverter-common's convert_float_to_float16 writes
# models: mlp128-fp16io.onnx computes and takes/returns float16; mlp128-fp16.onnx keeps float32 input and output around
# a float16 graph (keep_io_types: a Cast in, a Cast out). No expected outputs: ONNX Runtime runs these files in the test.
#   /usr/bin/python3 export-fp16.py
import numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
for keep_io in (True, False):
    m = onnx.load("mlp128.onnx")
    g = m.graph
    weights = [numpy_helper.from_array(numpy_helper.to_array(i).astype(np.float16), i.name) if i.data_type == TensorProto.FLOAT else i
               for i in g.initializer]
    del g.initializer[:]
    g.initializer.extend(weights)
    x, y = g.input[0].name, g.output[0].name
    if keep_io:
        for n in g.node:
            n.input[:] = [x + "_fp16" if i == x else i for i in n.input]
            n.output[:] = [y + "_fp16" if o == y else o for o in n.output]
        nodes = [helper.make_node("Cast", [x], [x + "_fp16"], to=TensorProto.FLOAT16, name="cast_input")] + list(g.node) \
            + [helper.make_node("Cast", [y + "_fp16"], [y], to=TensorProto.FLOAT, name="cast_output")]
        del g.node[:]
        g.node.extend(nodes)
    else:
        g.input[0].type.tensor_type.elem_type = TensorProto.FLOAT16
        g.output[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(m)
    onnx.save(m, "mlp128-fp16.onnx" if keep_io else "mlp128-fp16io.onnx")
