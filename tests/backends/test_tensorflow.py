"""The TF backend library on its own, outside Redis.

Runs build/backends/redisai_tensorflow/redisai_tensorflow.so on real frozen
GraphDefs built by tf_models.py (the real TensorFlow, in a subprocess, once
per session) through build/tests/backend_harness, and through
build/tests/tf_driver for STRING values, thread settings, output/input
aliasing, concurrent runs and timing.  Expected values come from numpy, and
the expected ConfigProto bytes from TensorFlow's own protobuf classes.
"""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIB = os.path.join(ROOT, "build", "backends", "redisai_tensorflow", "redisai_tensorflow.so")
HARNESS = os.path.join(ROOT, "build", "tests", "backend_harness")
DRIVER = os.path.join(ROOT, "build", "tests", "tf_driver")
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")

pytestmark = pytest.mark.skipif(not os.path.exists(LIB), reason="TF backend not built (make)")


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    """name -> path of the frozen GraphDef (and reference ConfigProto) files."""
    out = tmp_path_factory.mktemp("tf_graphs")
    script = os.path.join(os.path.dirname(__file__), "tf_models.py")
    subprocess.run([sys.executable, script, str(out)], check=True, env=ENV, timeout=300)
    return {p.stem: str(p) for p in out.iterdir()}


def run(tool, path, *args, timeout=120):
    p = subprocess.run([tool, LIB, path, *args], capture_output=True, text=True, env=ENV,
                       timeout=timeout)
    return p.returncode, p.stdout.splitlines(), p.stderr


def ok(tool, path, *args):
    rc, out, err = run(tool, path, *args)
    assert rc == 0, (out, err[-2000:])
    return out


def fail(tool, path, *args):
    """One 'ERROR <text>' line and exit 1 (not a signal)."""
    rc, out, err = run(tool, path, *args)
    assert rc == 1, (rc, out, err[-2000:])
    assert len(out) == 1 and out[0].startswith("ERROR "), out
    return out[0][len("ERROR "):]


def parse(line):
    parts = line.split(" ")
    shape = () if parts[1] == "-" else tuple(int(d) for d in parts[1].split("x"))
    return parts[0], shape, np.array([float(v) for v in parts[2:]])


def arg(dtype, a):
    a = np.asarray(a)
    dims = "x".join(str(d) for d in a.shape) or "-"
    vals = ",".join(repr(float(v)) if a.dtype.kind == "f" else str(int(v)) for v in a.ravel())
    return f"{dtype}:{dims}:{vals}"


def test_mul_float_spec_example(graphs):
    a = np.array([[1, 2], [3, 4]], np.float32)
    b = np.array([[2, 3], [2, 3]], np.float32)
    out = ok(HARNESS, graphs["mul_float"], "--inputs", "a,b", "--outputs", "c",
             arg("FLOAT", a), arg("FLOAT", b))
    assert len(out) == 1
    dt, shape, vals = parse(out[0])
    assert (dt, shape) == ("FLOAT", (2, 2))
    np.testing.assert_array_equal(vals, (a * b).ravel())
    assert vals.tolist() == [2, 6, 6, 12]


@pytest.mark.parametrize("graph,dtype,np_dtype", [
    ("mul_int32", "INT32", np.int32),
    ("mul_double", "DOUBLE", np.float64),
])
def test_mul_other_dtypes(graphs, graph, dtype, np_dtype):
    rng = np.random.default_rng(7)
    if np_dtype is np.int32:
        a = rng.integers(-1000, 1000, (3, 4)).astype(np_dtype)
        b = rng.integers(-1000, 1000, (3, 4)).astype(np_dtype)
    else:
        a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    out = ok(HARNESS, graphs[graph], "--inputs", "a,b", "--outputs", "c", arg(dtype, a), arg(dtype, b))
    dt, shape, vals = parse(out[0])
    assert (dt, shape) == (dtype, (3, 4))
    np.testing.assert_allclose(vals, (a * b).ravel(), rtol=1e-5)


def test_scalar_inputs(graphs):
    out = ok(HARNESS, graphs["mul_float"], "--inputs", "a,b", "--outputs", "c", "FLOAT:-:3", "FLOAT:-:2.5")
    assert parse(out[0])[:2] == ("FLOAT", ())
    assert parse(out[0])[2].tolist() == [7.5]


def test_two_outputs_int64_bool(graphs):
    a, b = np.array([1, 5, 3, -7]), np.array([2, 2, 3, -9])
    out = ok(HARNESS, graphs["two_out"], "--inputs", "a,b", "--outputs", "sum,gt",
             arg("INT64", a), arg("INT64", b))
    assert len(out) == 2
    assert parse(out[0])[:2] == ("INT64", (4,))
    np.testing.assert_array_equal(parse(out[0])[2], a + b)
    assert parse(out[1])[:2] == ("BOOL", (4,))
    np.testing.assert_array_equal(parse(out[1])[2], (a > b).astype(float))


def test_node_with_output_index(graphs):
    out = ok(HARNESS, graphs["mul_float"], "--inputs", "a:0,b:0", "--outputs", "c:0", "FLOAT:2:1,2", "FLOAT:2:3,4")
    assert parse(out[0])[2].tolist() == [3, 8]
    assert "has no output 1" in fail(HARNESS, graphs["mul_float"], "--inputs", "a,b", "--outputs", "c:1",
                                     "FLOAT:2:1,2", "FLOAT:2:3,4")


def test_strings(graphs):
    """STRING in and out: copied through TF_TString (short and heap-stored)."""
    out = ok(DRIVER, graphs["string_ident"], "strings")
    words = ["x", "hello world", "a string longer than the inline TF_TString buffer"]
    expect = [f"0[{i}]={w}" for i, w in enumerate(words)] + \
             [f"1[{i}]={w}-{w}" for i, w in enumerate(words)]
    assert out == expect


def test_strings_harness_empty(graphs):
    """The harness cannot set STRING values: zero-filled input = empty strings."""
    out = ok(HARNESS, graphs["string_ident"], "--inputs", "a", "--outputs", "c,d", "STRING:2x2")
    assert out == ["STRING 2x2    ", "STRING 2x2 - - - -"]


def test_wrong_output_name(graphs):
    msg = fail(HARNESS, graphs["mul_float"], "--inputs", "a,b", "--outputs", "nope", "FLOAT:2:1,2", "FLOAT:2:3,4")
    assert "nope" in msg and "Output" in msg


def test_wrong_input_name(graphs):
    msg = fail(HARNESS, graphs["mul_float"], "--inputs", "a,zz", "--outputs", "c", "FLOAT:2:1,2", "FLOAT:2:3,4")
    assert "zz" in msg and "Input" in msg


def test_wrong_input_dtype(graphs):
    msg = fail(HARNESS, graphs["mul_float"], "--inputs", "a,b", "--outputs", "c", "INT32:2:1,2", "FLOAT:2:3,4")
    assert "float" in msg and "int32" in msg


@pytest.mark.parametrize("blob", [os.urandom(200), b"", b"\x0a\x05hello"])
def test_bad_graph_blob(tmp_path, blob):
    path = tmp_path / "bad.pb"
    path.write_bytes(blob if blob else b"\xff")
    msg = fail(HARNESS, str(path), "--inputs", "a,b", "--outputs", "c", "FLOAT:2:1,2", "FLOAT:2:3,4")
    assert msg


def test_identity_output_does_not_alias_input(graphs):
    """A 64-aligned input goes to TF without a copy; the Identity output would
    then share the engine's input buffer, so the backend must copy it."""
    out = ok(DRIVER, graphs["ident_float"], "alias")
    assert out[0] == "shared=0"
    np.testing.assert_array_equal([float(v) for v in out[1].split()], np.arange(16) * 1.5)


def test_concurrent_runs_one_model(graphs):
    assert ok(DRIVER, graphs["mul_float"], "threads", "4") == ["OK 4 threads"]


@pytest.mark.parametrize("mode", ["config", "modelopts"])
@pytest.mark.parametrize("intra,inter", [(3, 2), (300, 0), (0, 5)])
def test_session_config_proto(graphs, mode, intra, inter):
    """The hand-written ConfigProto equals TF's own serialization."""
    out = ok(DRIVER, graphs["mul_float"], mode, str(intra), str(inter), "x", "10")
    logs = [line for line in out if line.startswith("LOG ")]
    assert len(logs) == 1, out
    m = re.search(r"intra_op_parallelism_threads=(\d+) inter_op_parallelism_threads=(\d+) "
                  r"\(ConfigProto ([0-9a-f]+)\)", logs[0])
    assert m and (int(m[1]), int(m[2])) == (intra, inter)
    with open(graphs[f"config_{intra}_{inter}"], "rb") as f:
        assert bytes.fromhex(m[3]) == f.read()
    assert out[-1].startswith("RUN_US ")


def test_default_config_sets_nothing(graphs):
    out = ok(DRIVER, graphs["mul_float"], "bench", "0", "0", "10")
    assert not [line for line in out if line.startswith("LOG ")]


def test_timing(graphs):
    out = ok(DRIVER, graphs["mul_float"], "bench", "0", "0", "3000")
    us = float(out[-1].split()[1])
    print(f"TF c=a*b FLOAT[4] steady run: {us:.1f} us")
    assert us < 5000
