"""Models and helpers shared by the engine's model tests (test_models*.py).

One `Case` per backend (ONNX, TORCH, TF): a real model generated here or by
the backend builders in tests/backends, the inputs a run needs and the
outputs numpy computes for them.  TF graphs are built by the real TensorFlow
in a subprocess (this file run as a script), once per test process.

    python model_cases.py OUTDIR      writes the TF graphs as OUTDIR/<name>.pb
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "backends"))

BACKENDS = ["ONNX", "TORCH", "TF"]


# ---- TF graphs (built in a subprocess: importing TF costs seconds) ---------

def _build_tf_graphs(outdir):
    import tensorflow as tf

    v1 = tf.compat.v1

    def build(name, fn):
        g = tf.Graph()
        with g.as_default():
            a = v1.placeholder(tf.float32, name="a")
            b = v1.placeholder(tf.float32, name="b")
            fn(a, b)
        with open(os.path.join(outdir, name + ".pb"), "wb") as f:
            f.write(g.as_graph_def().SerializeToString())

    build("mul", lambda a, b: tf.multiply(a, b, name="c"))
    # drops dim 0: cannot be auto-batched
    build("sum0", lambda a, b: tf.reduce_sum(tf.multiply(a, b), axis=0, name="c"))


_tf_cache = {}


def tf_graph(name):
    """The bytes of a frozen TF graph: placeholders a, b (FLOAT) -> node c."""
    if not _tf_cache:
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
            subprocess.run([sys.executable, os.path.abspath(__file__), d], check=True, env=env,
                           timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for f in os.listdir(d):
                with open(os.path.join(d, f), "rb") as fh:
                    _tf_cache[f[:-3]] = fh.read()
    return _tf_cache[name]


# ---- TorchScript models ----------------------------------------------------

def torch_blob(name):
    """torch.jit.save bytes: 'add' (a + b) or 'sum0' ((a * b).sum(0))."""
    import warnings

    import torch

    import torch_models

    class Sum0(torch.nn.Module):
        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return (a * b).sum(0)

    cls = {"add": torch_models.Add, "sum0": Sum0}[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream, and is what models are
        return torch_models.save(torch.jit.script(cls()))


# ---- ONNX models -------------------------------------------------------------

def onnx_batch_probe():
    """Input 'x' FLOAT [N, M]; outputs 'y' = 2x [N, M] and 'n' = N as FLOAT [N]:
    each row learns the size of the batch it was run in."""
    from onnx import TensorProto, helper, numpy_helper

    import models

    zero = numpy_helper.from_array(np.array([0], dtype=np.int64), "zero")
    one = numpy_helper.from_array(np.array([1], dtype=np.int64), "one")
    two = numpy_helper.from_array(np.array([2.0], dtype=np.float32), "two")
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["y"]),
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["rows"]),  # [N]
        helper.make_node("Cast", ["rows"], ["rows_f"], to=TensorProto.FLOAT),
        helper.make_node("Expand", ["rows_f", "rows"], ["n"]),
    ]
    return models._model(nodes, [models._info("x", TensorProto.FLOAT, ["N", "M"])],
                         [models._info("y", TensorProto.FLOAT, ["N", "M"]),
                          models._info("n", TensorProto.FLOAT, ["N"])],
                         [zero, one, two], "batchprobe")


def onnx_string_batch_probe():
    """Input 's' STRING [N]; outputs 'out' = s and 'n' = N as INT64 [N]: the
    batch probe for STRING inputs."""
    from onnx import TensorProto, helper

    import models

    nodes = [
        helper.make_node("Identity", ["s"], ["out"]),
        helper.make_node("Shape", ["s"], ["rows"]),  # [N]
        helper.make_node("Expand", ["rows", "rows"], ["n"]),
    ]
    return models._model(nodes, [models._info("s", TensorProto.STRING, ["N"])],
                         [models._info("out", TensorProto.STRING, ["N"]),
                          models._info("n", TensorProto.INT64, ["N"])], name="strprobe")


def onnx_sum0():
    """Input 'x' FLOAT [N, 3]; output 's' = sum over dim 0, FLOAT [3]."""
    from onnx import TensorProto, helper, numpy_helper

    import models

    axes = numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")
    nodes = [helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=0)]
    return models._model(nodes, [models._info("x", TensorProto.FLOAT, ["N", 3])],
                         [models._info("s", TensorProto.FLOAT, [3])], [axes], "sum0")


# ---- one case per backend -------------------------------------------------------

class Case:
    """A model of one backend with the inputs of one run and its outputs."""

    def __init__(self, backend, blob, inputs, fn, meta_inputs, meta_outputs, names=()):
        self.backend = backend
        self.blob = blob
        self.inputs = inputs          # [(name, dtype, np array)]
        self.fn = fn                  # numpy: input arrays -> the (single) output
        self.outputs = [fn(*(a for _, _, a in inputs))] if inputs else []
        self.meta_inputs = meta_inputs
        self.meta_outputs = meta_outputs
        self.names = list(names)      # INPUTS/OUTPUTS clause (TF only)

    def store_cmd(self, key, *options, device="CPU"):
        return ["AI.MODELSTORE", key, self.backend, device, *options, *self.names, "BLOB", self.blob]

    def set_inputs(self, r, prefix=""):
        """Writes the inputs as tensor keys; returns their names."""
        keys = []
        for name, dtype, a in self.inputs:
            r.execute_command("AI.TENSORSET", prefix + name, dtype, *a.shape, "BLOB", a.tobytes())
            keys.append(prefix + name)
        return keys

    def execute_cmd(self, key, in_keys, out_keys):
        return ["AI.MODELEXECUTE", key, "INPUTS", len(in_keys), *in_keys,
                "OUTPUTS", len(out_keys), *out_keys]

    def check_outputs(self, r, out_keys):
        for k, expected in zip(out_keys, self.outputs, strict=True):
            meta = r.execute_command("AI.TENSORGET", k, "META", "BLOB")
            assert meta[:4] == [b"dtype", b"FLOAT", b"shape", list(expected.shape)], k
            got = np.frombuffer(meta[5], dtype=np.float32).reshape(expected.shape)
            np.testing.assert_allclose(got, expected, rtol=1e-6)


def case(backend):
    if backend == "ONNX":
        import models
        x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
        return Case("ONNX", models.linear(), [("x", "FLOAT", x)], lambda x: x @ models.LINEAR_W + models.LINEAR_B,
                    [b"x"], [b"y"])
    a = np.array([[1, 2], [3, 4.5]], dtype=np.float32)
    b = np.array([[2, 3], [-2, 0.5]], dtype=np.float32)
    ins = [("a", "FLOAT", a), ("b", "FLOAT", b)]
    if backend == "TORCH":
        return Case("TORCH", torch_blob("add"), ins, lambda a, b: a + b, [b"a", b"b"], [b""])
    if backend == "TF":
        return Case("TF", tf_graph("mul"), ins, lambda a, b: a * b, [b"a", b"b"], [b"c"],
                    names=["INPUTS", 2, "a", "b", "OUTPUTS", 1, "c"])
    raise ValueError(backend)


def meta(reply):
    """AI.MODELGET META (or AI.INFO) reply as a dict keyed by str."""
    return {k.decode(): v for k, v in zip(reply[::2], reply[1::2])}


if __name__ == "__main__":
    _build_tf_graphs(sys.argv[1])
