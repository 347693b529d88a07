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

from support.server import BUILD
LIB = os.path.join(BUILD, "backends", "redisai_tensorflow", "redisai_tensorflow.so")
HARNESS = os.path.join(BUILD, "tests", "backend_harness")
DRIVER = os.path.join(BUILD, "tests", "tf_driver")
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


# ---- end to end: the engine loads this library for AI.MODELSTORE TF ------

def _e2e_server(server_factory, *margs, **kw):
    from support.server import ENGINE
    return server_factory(modules=((ENGINE, list(margs)),), **kw)


def _err(r, *cmd):
    import redis
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*cmd)
    return str(e.value)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_e2e_mul_float(graphs, server_factory):
    r = _e2e_server(server_factory).client()
    pb = _read(graphs["mul_float"])
    assert r.execute_command("AI.MODELSTORE", "m", "TF", "CPU", "INPUTS", 2, "a", "b",
                             "OUTPUTS", 1, "c", "BLOB", pb) == b"OK"
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 2, 2, "VALUES", 1, 2, 3, 4)
    r.execute_command("AI.TENSORSET", "b", "FLOAT", 2, 2, "VALUES", 2, 3, 2, 3)
    assert r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c") == b"OK"
    assert r.execute_command("AI.TENSORGET", "c", "VALUES") == [b"2", b"6", b"6", b"12"]
    meta = r.execute_command("AI.MODELGET", "m", "META")
    d = dict(zip(meta[::2], meta[1::2]))
    assert d[b"backend"] == b"TF" and d[b"inputs"] == [b"a", b"b"] and d[b"outputs"] == [b"c"]
    assert r.info("ai")["ai_TensorFlow_version"] == "2.21.0"


def test_e2e_large_blob_double(graphs, server_factory):
    """A 300x400 DOUBLE blob (kept in the Redis argument, possibly unaligned)."""
    r = _e2e_server(server_factory).client()
    r.execute_command("AI.MODELSTORE", "m", "TF", "CPU", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c",
                      "BLOB", _read(graphs["mul_double"]))
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((300, 400)), rng.standard_normal((300, 400))
    r.execute_command("AI.TENSORSET", "a", "DOUBLE", 300, 400, "BLOB", a.tobytes())
    r.execute_command("AI.TENSORSET", "b", "DOUBLE", 300, 400, "BLOB", b.tobytes())
    for _ in range(3):
        r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c")
        got = np.frombuffer(r.execute_command("AI.TENSORGET", "c", "BLOB"), np.float64).reshape(300, 400)
        np.testing.assert_array_equal(got, a * b)


def test_e2e_strings(graphs, server_factory):
    r = _e2e_server(server_factory).client()
    r.execute_command("AI.MODELSTORE", "s", "TF", "CPU", "INPUTS", 1, "a", "OUTPUTS", 2, "c", "d",
                      "BLOB", _read(graphs["string_ident"]))
    words = ["foo", "a longer string of more than 22 bytes"]
    r.execute_command("AI.TENSORSET", "sa", "STRING", 2, "VALUES", *words)
    r.execute_command("AI.MODELEXECUTE", "s", "INPUTS", 1, "sa", "OUTPUTS", 2, "sc", "sd")
    assert r.execute_command("AI.TENSORGET", "sc", "VALUES") == [w.encode() for w in words]
    assert r.execute_command("AI.TENSORGET", "sd", "VALUES") == [f"{w}-{w}".encode() for w in words]


def test_e2e_errors(graphs, server_factory):
    srv = _e2e_server(server_factory)
    r = srv.client()
    pb = _read(graphs["mul_float"])
    assert "nope" in _err(r, "AI.MODELSTORE", "m", "TF", "CPU", "INPUTS", 2, "a", "b",
                          "OUTPUTS", 1, "nope", "BLOB", pb)
    assert "Invalid GraphDef" in _err(r, "AI.MODELSTORE", "m", "TF", "CPU", "INPUTS", 2, "a", "b",
                                      "OUTPUTS", 1, "c", "BLOB", pb[:50])
    assert "Invalid GraphDef" in _err(r, "AI.MODELSTORE", "m", "TF", "CPU", "INPUTS", 2, "a", "b",
                                      "OUTPUTS", 1, "c", "BLOB", os.urandom(300))
    assert r.exists("m") == 0
    r.execute_command("AI.MODELSTORE", "m", "TF", "CPU", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c", "BLOB", pb)
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 2, "VALUES", 1, 2)
    r.execute_command("AI.TENSORSET", "i", "INT32", 2, "VALUES", 1, 2)
    msg = _err(r, "AI.MODELEXECUTE", "m", "INPUTS", 2, "a", "i", "OUTPUTS", 1, "c")
    assert "float" in msg and "int32" in msg
    assert srv.alive() and r.ping()


def test_e2e_thread_settings_reach_session(graphs, server_factory):
    srv = _e2e_server(server_factory, "INTRA_OP_PARALLELISM", 3, "INTER_OP_PARALLELISM", 2,
                      config=[("loglevel", "verbose")])
    r = srv.client()
    r.execute_command("AI.MODELSTORE", "m", "TF", "CPU", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c",
                      "BLOB", _read(graphs["mul_float"]))
    with open(srv.logfile) as f:
        lines = [line for line in f if "ConfigProto" in line]
    assert lines and "intra_op_parallelism_threads=3 inter_op_parallelism_threads=2" in lines[-1]
    assert bytes.fromhex(lines[-1].split("ConfigProto ")[1].strip(" )\n")) == _read(graphs["config_3_2"])


def test_e2e_concurrent_clients(graphs, server_factory):
    """Several clients run one model at once on two worker threads."""
    import threading
    srv = _e2e_server(server_factory, "THREADS_PER_QUEUE", 2)
    srv.client().execute_command("AI.MODELSTORE", "m", "TF", "CPU", "INPUTS", 2, "a", "b",
                                 "OUTPUTS", 1, "c", "BLOB", _read(graphs["mul_int32"]))
    errors = []

    def worker(k):
        r = srv.client()
        try:
            for i in range(40):
                a = np.arange(6, dtype=np.int32) + k * 100 + i
                b = np.full(6, k + 2, np.int32)
                r.execute_command("AI.TENSORSET", f"a{{{k}}}", "INT32", 2, 3, "BLOB", a.tobytes())
                r.execute_command("AI.TENSORSET", f"b{{{k}}}", "INT32", 2, 3, "BLOB", b.tobytes())
                r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 2, f"a{{{k}}}", f"b{{{k}}}",
                                  "OUTPUTS", 1, f"c{{{k}}}")
                got = np.frombuffer(r.execute_command("AI.TENSORGET", f"c{{{k}}}", "BLOB"), np.int32)
                np.testing.assert_array_equal(got, a * b)
        except Exception as e:  # reported below, from the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
