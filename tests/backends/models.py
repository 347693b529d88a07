"""Real ONNX models for the backend and engine tests, built with onnx.helper.

Every builder returns the serialized model (bytes) and uses fixed weights, so
tests can compute the expected values independently (numpy, or the
onnxruntime Python package).  Opset 13, IR version 8.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8


def _model(nodes, inputs, outputs, initializers=(), name="g"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _info(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


# Weights of the linear layer: y = x @ W + b, x is [N, 3], y is [N, 2].
LINEAR_W = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32)
LINEAR_B = np.array([0.5, -1.0], dtype=np.float32)


def linear():
    """MatMul + Add with known weights; input 'x' FLOAT [N,3], output 'y' FLOAT [N,2]."""
    nodes = [helper.make_node("MatMul", ["x", "W"], ["xw"]),
             helper.make_node("Add", ["xw", "b"], ["y"])]
    inits = [numpy_helper.from_array(LINEAR_W, "W"), numpy_helper.from_array(LINEAR_B, "b")]
    return _model(nodes, [_info("x", TensorProto.FLOAT, ["N", 3])],
                  [_info("y", TensorProto.FLOAT, ["N", 2])], inits, "linear")


def conv_net(seed=7):
    """Conv(1->4, 3x3, pad 1) + Relu + MaxPool 2x2 + Flatten + Gemm(->3) + Softmax.
    Input 'image' FLOAT [N,1,8,8], output 'probs' FLOAT [N,3].  Weights are fixed
    by the seed."""
    rng = np.random.default_rng(seed)
    conv_w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    conv_b = rng.standard_normal(4).astype(np.float32)
    fc_w = (rng.standard_normal((3, 4 * 4 * 4)) * 0.1).astype(np.float32)
    fc_b = rng.standard_normal(3).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["image", "cw", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((conv_w, "cw"), (conv_b, "cb"), (fc_w, "fw"), (fc_b, "fb"))]
    return _model(nodes, [_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
                  [_info("probs", TensorProto.FLOAT, ["N", 3])], inits, "convnet")


def two_in_two_out():
    """Inputs 'a', 'b' INT64 [N]; outputs 'sum' = a+b and 'prod' = a*b."""
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]),
             helper.make_node("Mul", ["a", "b"], ["prod"])]
    return _model(nodes, [_info("a", TensorProto.INT64, ["N"]), _info("b", TensorProto.INT64, ["N"])],
                  [_info("sum", TensorProto.INT64, ["N"]), _info("prod", TensorProto.INT64, ["N"])],
                  name="sumprod")


def string_identity():
    """Identity on a STRING tensor: input 's' [N], output 'out' [N]."""
    nodes = [helper.make_node("Identity", ["s"], ["out"])]
    return _model(nodes, [_info("s", TensorProto.STRING, ["N"])],
                  [_info("out", TensorProto.STRING, ["N"])], name="strid")


# Weights of the classifier: scores = x @ CLASSIFIER_W, x is [N, 2].
CLASSIFIER_W = np.array([[1.0, -1.0], [-2.0, 2.0]], dtype=np.float32)


def classifier_with_zipmap():
    """A classifier shaped like scikit-learn's export: input 'x' FLOAT [N,2];
    output 'label' INT64 [N] (argmax of x @ W), then 'probabilities', the
    softmax as a sequence of {class: probability} maps (ZipMap), no tensor."""
    nodes = [helper.make_node("MatMul", ["x", "W"], ["scores"]),
             helper.make_node("ArgMax", ["scores"], ["label"], axis=1, keepdims=0),
             helper.make_node("Softmax", ["scores"], ["probs"], axis=1),
             helper.make_node("ZipMap", ["probs"], ["probabilities"], domain="ai.onnx.ml",
                              classlabels_int64s=[0, 1])]
    seq_of_maps = helper.make_sequence_type_proto(helper.make_map_type_proto(
        TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, [])))
    graph = helper.make_graph(nodes, "classifier", [_info("x", TensorProto.FLOAT, ["N", 2])],
                              [_info("label", TensorProto.INT64, ["N"]),
                               helper.make_value_info("probabilities", seq_of_maps)],
                              initializer=[numpy_helper.from_array(CLASSIFIER_W, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET),
                                                    helper.make_opsetid("ai.onnx.ml", 1)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString()


def bool_logic():
    """Inputs 'p', 'q' BOOL [N]; outputs 'not_p' = !p and 'p_and_q' = p & q."""
    nodes = [helper.make_node("Not", ["p"], ["not_p"]),
             helper.make_node("And", ["p", "q"], ["p_and_q"])]
    return _model(nodes, [_info("p", TensorProto.BOOL, ["N"]), _info("q", TensorProto.BOOL, ["N"])],
                  [_info("not_p", TensorProto.BOOL, ["N"]), _info("p_and_q", TensorProto.BOOL, ["N"])],
                  name="boollogic")


_ELEM = {"FLOAT": TensorProto.FLOAT, "DOUBLE": TensorProto.DOUBLE, "INT8": TensorProto.INT8,
         "INT16": TensorProto.INT16, "INT32": TensorProto.INT32, "INT64": TensorProto.INT64,
         "UINT8": TensorProto.UINT8, "UINT16": TensorProto.UINT16, "BOOL": TensorProto.BOOL,
         "STRING": TensorProto.STRING, "FLOAT16": TensorProto.FLOAT16,
         "UINT32": TensorProto.UINT32}


def identity(dtype):
    """Identity on one tensor of the given type name ('FLOAT', 'UINT16', ...):
    input 'x' [N], output 'y' [N]."""
    elem = _ELEM[dtype]
    return _model([helper.make_node("Identity", ["x"], ["y"])], [_info("x", elem, ["N"])],
                  [_info("y", elem, ["N"])], name="id_" + dtype.lower())


def cast_to(dtype):
    """Casts a FLOAT input 'x' [N] to output 'y' of the given type name."""
    elem = _ELEM[dtype]
    return _model([helper.make_node("Cast", ["x"], ["y"], to=elem)],
                  [_info("x", TensorProto.FLOAT, ["N"])], [_info("y", elem, ["N"])],
                  name="cast_" + dtype.lower())


def matmul_by(weights):
    """y = x @ W, with W the given FLOAT [K, M] weights: input 'x' [N, K],
    output 'y' [N, M]."""
    w = numpy_helper.from_array(np.asarray(weights, dtype=np.float32), "w")
    k, m = weights.shape
    return _model([helper.make_node("MatMul", ["x", "w"], ["y"])], [_info("x", TensorProto.FLOAT, ["N", k])],
                  [_info("y", TensorProto.FLOAT, ["N", m])], [w], "matmul")


def mul_add():
    """y = x * 2 + 1 on FLOAT [N] (the spec's reference timing model)."""
    two = numpy_helper.from_array(np.array([2.0], dtype=np.float32), "two")
    one = numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one")
    nodes = [helper.make_node("Mul", ["x", "two"], ["x2"]), helper.make_node("Add", ["x2", "one"], ["y"])]
    return _model(nodes, [_info("x", TensorProto.FLOAT, ["N"])], [_info("y", TensorProto.FLOAT, ["N"])],
                  [two, one], "muladd")


def empty_slice():
    """Slices FLOAT input 'x' [N] to an empty output 'y' (shape [0])."""
    consts = [numpy_helper.from_array(np.array([0], dtype=np.int64), n) for n in ("starts", "ends")]
    return _model([helper.make_node("Slice", ["x", "starts", "ends"], ["y"])],
                  [_info("x", TensorProto.FLOAT, ["N"])], [_info("y", TensorProto.FLOAT, [0])],
                  consts, "empty")


def slow_matmuls(n=200, size=1024):
    """A deliberately slow model for execution timeouts: input 'x' FLOAT [1] is
    expanded to [size, size] and multiplied n times by a constant matrix
    (about 2*size^3 flops each; values stay finite)."""
    w = numpy_helper.from_array(np.full((size, size), 1.0 / size, dtype=np.float32), "W")
    shape = numpy_helper.from_array(np.array([size, size], dtype=np.int64), "shape")
    nodes = [helper.make_node("Expand", ["x", "shape"], ["h0"])]
    for i in range(n):
        nodes.append(helper.make_node("MatMul", [f"h{i}", "W"], [f"h{i + 1}"]))
    nodes.append(helper.make_node("ReduceSum", [f"h{n}"], ["y"], keepdims=0))
    return _model(nodes, [_info("x", TensorProto.FLOAT, [1])], [_info("y", TensorProto.FLOAT, [])],
                  [w, shape], "slow")
