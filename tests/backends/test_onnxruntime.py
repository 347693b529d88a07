"""The ONNX Runtime backend library on its own, outside Redis.

Runs build/backends/redisai_onnxruntime/redisai_onnxruntime.so on real ONNX
models (models.py) through build/tests/backend_harness, and through
build/tests/ort_probe for STRING inputs, unaligned input data, concurrent runs
and timings.  Expected values come from numpy or the onnxruntime Python
package, never from the library under test.
"""
import os
import subprocess

import numpy as np
import onnxruntime
import pytest

import models

from support.server import BUILD
LIB = os.path.join(BUILD, "backends", "redisai_onnxruntime", "redisai_onnxruntime.so")
HARNESS = os.path.join(BUILD, "tests", "backend_harness")
PROBE = os.path.join(BUILD, "tests", "ort_probe")

pytestmark = pytest.mark.skipif(not os.path.exists(LIB), reason="ONNX backend not built (make)")


def run(tool, tmp_path, model, *args, timeout=120):
    """Runs the tool on the model bytes; returns (returncode, stdout lines, stderr)."""
    path = tmp_path / "model.onnx"
    path.write_bytes(model)
    p = subprocess.run([tool, LIB, str(path), *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout.splitlines(), p.stderr


def ok(tool, tmp_path, model, *args):
    rc, out, err = run(tool, tmp_path, model, *args)
    assert rc == 0, (out, err)
    return out


def fail(tool, tmp_path, model, *args):
    """The run must end with one 'ERROR <text>' line and exit 1 (not a signal)."""
    rc, out, err = run(tool, tmp_path, model, *args)
    assert rc == 1, (rc, out, err)
    assert len(out) == 1 and out[0].startswith("ERROR "), out
    return out[0][len("ERROR "):]


def parse(line):
    """'FLOAT 2x3 v1 v2 ...' -> (dtype, shape, values as float array)."""
    parts = line.split(" ")
    shape = () if parts[1] == "-" else tuple(int(d) for d in parts[1].split("x"))
    return parts[0], shape, np.array([float(v) for v in parts[2:]])


def arg(dtype, a):
    """An INPUT argument for the tools; floats written exactly (repr)."""
    a = np.asarray(a)
    dims = "x".join(str(d) for d in a.shape) or "-"
    vals = ",".join(repr(float(v)) if a.dtype.kind == "f" else str(int(v)) for v in a.ravel())
    return f"{dtype}:{dims}:{vals}"


def reference(model, **feeds):
    """Outputs computed by the onnxruntime Python package, in-process."""
    sess = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def test_linear_layer_exact(tmp_path):
    x = np.array([[1, 2, 3], [4, 5, 6], [-1, 0, 0.25]], dtype=np.float32)
    out = ok(HARNESS, tmp_path, models.linear(), arg("FLOAT", x))
    dtype, shape, vals = parse(out[0])
    assert (dtype, shape) == ("FLOAT", (3, 2))
    expected = x @ models.LINEAR_W + models.LINEAR_B
    assert vals.tolist() == expected.ravel().tolist()
    assert out[0] == "FLOAT 3x2 22.5 27 49.5 63 0.75 -1.5"


def test_conv_net_matches_onnxruntime_python(tmp_path):
    model = models.conv_net()
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    out = ok(PROBE, tmp_path, model, "--iters", "0", arg("FLOAT", x))
    dtype, shape, vals = parse(out[0])
    (expected,) = reference(model, image=x)
    assert (dtype, shape) == ("FLOAT", (2, 3))
    np.testing.assert_allclose(vals, expected.ravel(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(vals.reshape(2, 3).sum(axis=1), [1, 1], rtol=1e-6)


def test_two_inputs_two_outputs(tmp_path):
    a, b = np.array([1, -2, 3, 2**40]), np.array([4, 5, -6, 3])
    rc, out, err = run(HARNESS, tmp_path, models.two_in_two_out(), arg("INT64", a), arg("INT64", b))
    assert rc == 0, (out, err)
    assert "signature: 2 inputs, 2 outputs" in err
    assert out == ["INT64 4 " + " ".join(str(v) for v in a + b),
                   "INT64 4 " + " ".join(str(v) for v in a * b)]


def test_non_tensor_output_is_skipped_with_a_log_line(tmp_path):
    x = np.array([[1, 0], [0, 1], [3, 1]], dtype=np.float32)
    rc, out, err = run(HARNESS, tmp_path, models.classifier_with_zipmap(), arg("FLOAT", x))
    assert rc == 0, (out, err)
    labels = (x @ models.CLASSIFIER_W).argmax(1)
    assert out == ["INT64 3 " + " ".join(map(str, labels)), "SKIPPED"]
    assert "ONNX output 1 (probabilities) is not a tensor: skipped, its key is not written" in err


def test_bool_model(tmp_path):
    p, q = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    out = ok(HARNESS, tmp_path, models.bool_logic(), arg("BOOL", p), arg("BOOL", q))
    not_p = np.logical_not(p.astype(bool)).astype(int)
    p_and_q = np.logical_and(p.astype(bool), q.astype(bool)).astype(int)
    assert out == ["BOOL 4 " + " ".join(map(str, not_p)), "BOOL 4 " + " ".join(map(str, p_and_q))]


def test_string_identity(tmp_path):
    words = ["hello", "", "wörld", "a b"]
    model = models.string_identity()
    (expected,) = reference(model, s=np.array(words, dtype=object))
    out = ok(PROBE, tmp_path, model, "--iters", "5", "STRING:4:" + ",".join(words))
    assert out == ["STRING 4 " + " ".join(expected.tolist())]


@pytest.mark.parametrize("dtype,values", [
    ("FLOAT", [1.5, -2.25, 3e38]), ("DOUBLE", [1e300, -0.125, 7.0]), ("INT8", [-128, 0, 127]),
    ("INT16", [-32768, 1, 32767]), ("INT32", [-2**31, 5, 2**31 - 1]),
    ("INT64", [-2**63, 6, 2**63 - 1]), ("UINT8", [0, 128, 255]), ("UINT16", [0, 1, 65535]),
    ("BOOL", [1, 0, 1]),
])
def test_every_numeric_dtype_round_trips(tmp_path, dtype, values):
    out = ok(PROBE, tmp_path, models.identity(dtype), "--iters", "0", arg(dtype, np.array(values)))
    got_dtype, shape, vals = parse(out[0])
    assert (got_dtype, shape) == (dtype, (3,))
    if dtype.startswith(("INT", "UINT")):
        assert [int(v) for v in out[0].split(" ")[2:]] == values
    else:
        ftype = np.float32 if dtype == "FLOAT" else np.float64
        np.testing.assert_array_equal(vals.astype(ftype), np.array(values, dtype=ftype))


@pytest.mark.parametrize("dtype", ["FLOAT16", "UINT32"])
def test_unsupported_output_type_is_refused(tmp_path, dtype):
    msg = fail(HARNESS, tmp_path, models.cast_to(dtype), "FLOAT:2:1,2")
    assert msg == f"ERR ONNX backend: unsupported output type {dtype} for output 0"


def test_random_bytes_model_gives_ort_error(tmp_path):
    blob = np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    msg = fail(HARNESS, tmp_path, blob, "FLOAT:1:1")
    assert msg == "Failed to load model because protobuf parsing failed."


@pytest.mark.parametrize("blob", [b"", models.linear()[:60]], ids=["empty", "truncated"])
def test_broken_model_blob_gives_error(tmp_path, blob):
    msg = fail(HARNESS, tmp_path, blob, "FLOAT:1x3:1,2,3")
    assert msg and "\n" not in msg


def test_input_count_mismatch(tmp_path):
    msg = fail(HARNESS, tmp_path, models.linear(), "FLOAT:1x3:1,2,3", "FLOAT:1x3:1,2,3")
    assert msg == "Number of keys given as INPUTS here does not match model definition"
    msg = fail(HARNESS, tmp_path, models.two_in_two_out(), "INT64:1:1")
    assert msg == "Number of keys given as INPUTS here does not match model definition"


def test_output_count_mismatch(tmp_path):
    msg = fail(HARNESS, tmp_path, models.linear(), "--noutputs", "2", "FLOAT:1x3:1,2,3")
    assert msg == "Number of keys given as OUTPUTS here does not match model definition"


def test_wrong_input_type_gives_ort_text(tmp_path):
    msg = fail(HARNESS, tmp_path, models.linear(), "INT32:1x3:1,2,3")
    assert msg.startswith("Unexpected input data type. Actual: (tensor(int32)) , expected: (tensor(float))")


def test_wrong_input_shape_gives_ort_text(tmp_path):
    msg = fail(HARNESS, tmp_path, models.linear(), "FLOAT:1x4:1,2,3,4")
    assert msg.startswith("Got invalid dimensions for input: x for the following indices")


def test_empty_output_is_refused(tmp_path):
    """Engine tensors have no zero dims: an empty output is an error, not a crash."""
    (ref,) = reference(models.empty_slice(), x=np.array([1, 2], dtype=np.float32))
    assert ref.shape == (0,)
    msg = fail(HARNESS, tmp_path, models.empty_slice(), "FLOAT:2:1,2")
    assert msg == "ERR ONNX backend: output 0 is empty (a zero dimension)"


@pytest.mark.parametrize("device", ["GPU", "GPU:0", "CPU:x", "TPU"])
def test_non_cpu_device_refused(tmp_path, device):
    assert fail(HARNESS, tmp_path, models.linear(), "--device", device, "FLOAT:1x3:1,2,3") == \
        "ERR unsupported device"


@pytest.mark.parametrize("device", ["CPU", "cpu", "CPU:1"])
def test_cpu_devices_accepted(tmp_path, device):
    assert ok(HARNESS, tmp_path, models.linear(), "--device", device, "FLOAT:1x3:1,1,1") == ["FLOAT 1x2 9.5 11"]


def test_unaligned_input_data(tmp_path):
    """Inputs kept at an odd address (large TENSORSET blobs) run without a copy
    and give the same result."""
    model = models.conv_net()
    x = np.random.default_rng(2).standard_normal((3, 1, 8, 8)).astype(np.float32)
    aligned = ok(PROBE, tmp_path, model, "--iters", "0", arg("FLOAT", x))
    unaligned = ok(PROBE, tmp_path, model, "--unaligned", "--iters", "3", arg("FLOAT", x))
    assert unaligned == aligned
    out = ok(PROBE, tmp_path, models.two_in_two_out(), "--unaligned", "INT64:2:7,8", "INT64:2:2,3")
    assert out == ["INT64 2 9 11", "INT64 2 14 24"]


def test_concurrent_runs_of_one_model(tmp_path):
    """One session, several threads running it at once: the first result is
    the reference's, and the probe fails when any of the 4 x 200 concurrent
    runs differs from it."""
    model = models.conv_net()
    x = np.random.default_rng(4).standard_normal((4, 1, 8, 8)).astype(np.float32)
    [line] = ok(PROBE, tmp_path, model, "--threads", "4", "--iters", "200", arg("FLOAT", x))
    dtype, shape, values = parse(line)
    [expected] = reference(model, image=x)
    assert (dtype, shape) == ("FLOAT", (4, 3))
    np.testing.assert_allclose(values.reshape(shape), expected, rtol=1e-5, atol=1e-6)
    out = ok(PROBE, tmp_path, models.string_identity(), "--threads", "4", "--iters", "200", "STRING:2:ab,cd")
    assert out == ["STRING 2 ab cd"]


def test_timing_is_reported(tmp_path):
    rc, out, err = run(PROBE, tmp_path, models.mul_add(), "--iters", "2000", arg("FLOAT", np.arange(8.0)))
    assert rc == 0 and out == ["FLOAT 8 1 3 5 7 9 11 13 15"]
    assert "timing create_us=" in err


def test_execution_timeout_terminates_run(tmp_path):
    """200 1024x1024 MatMuls take several seconds; with a 1000 ms timeout the
    watchdog stops the run and ORT's own text comes back."""
    msg = fail(PROBE, tmp_path, models.slow_matmuls(), "--iters", "0", "--timeout", "1000", "FLOAT:1:1")
    assert msg == "Exiting due to terminate flag being set to true."  # ORT stopped it
    out = ok(PROBE, tmp_path, models.slow_matmuls(n=2, size=64), "--iters", "0", "--timeout", "1000", "FLOAT:1:1")
    assert out == ["FLOAT - 4096"]


# ---- end to end: the backend loaded by the engine, through the commands ----

import threading  # noqa: E402

import redis  # noqa: E402

from support.server import ENGINE  # noqa: E402


def tensor(r, key):
    """(dtype, shape, values) of a tensor key, via AI.TENSORGET META VALUES."""
    reply = r.execute_command("AI.TENSORGET", key, "META", "VALUES")
    meta = dict(zip(reply[::2], reply[1::2]))
    return meta[b"dtype"].decode(), tuple(meta[b"shape"]), meta[b"values"]


def blob_of(r, key, np_dtype):
    return np.frombuffer(r.execute_command("AI.TENSORGET", key, "BLOB"), dtype=np_dtype)


def test_e2e_linear_store_meta_execute(r):
    assert r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "TAG", "lin", "BLOB", models.linear()) == b"OK"
    meta = r.execute_command("AI.MODELGET", "m", "META")
    assert meta[:6] == [b"backend", b"ONNX", b"device", b"CPU", b"tag", b"lin"]
    assert meta[10:14] == [b"inputs", [b"x"], b"outputs", [b"y"]]
    x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 2, 3, "BLOB", x.tobytes())
    assert r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y") == b"OK"
    dtype, shape, _ = tensor(r, "y")
    assert (dtype, shape) == ("FLOAT", (2, 2))
    assert blob_of(r, "y", np.float32).tolist() == (x @ models.LINEAR_W + models.LINEAR_B).ravel().tolist()
    info = r.execute_command("INFO", "ai")
    assert info["ai_onnxruntime_version"] == onnxruntime.__version__


def test_e2e_conv_net_large_borrowed_input(r):
    """A 16 KB TENSORSET blob stays in the Redis argument (possibly unaligned)
    and is handed to ORT in place; results match onnxruntime's Python API."""
    model = models.conv_net()
    x = np.random.default_rng(5).standard_normal((64, 1, 8, 8)).astype(np.float32)
    r.execute_command("AI.MODELSTORE", "cnn", "ONNX", "CPU", "BLOB", model)
    r.execute_command("AI.TENSORSET", "img", "FLOAT", 64, 1, 8, 8, "BLOB", x.tobytes())
    assert r.execute_command("AI.MODELEXECUTE", "cnn", "INPUTS", 1, "img", "OUTPUTS", 1, "p") == b"OK"
    (expected,) = reference(model, image=x)
    np.testing.assert_allclose(blob_of(r, "p", np.float32), expected.ravel(), rtol=1e-6, atol=1e-7)


def test_e2e_two_in_two_out_and_bool(r):
    r.execute_command("AI.MODELSTORE", "sp", "ONNX", "CPU", "BLOB", models.two_in_two_out())
    r.execute_command("AI.TENSORSET", "a", "INT64", 3, "VALUES", 1, 2, 3)
    r.execute_command("AI.TENSORSET", "b", "INT64", 3, "VALUES", 10, 20, -30)
    r.execute_command("AI.MODELEXECUTE", "sp", "INPUTS", 2, "a", "b", "OUTPUTS", 2, "s", "p")
    assert tensor(r, "s") == ("INT64", (3,), [11, 22, -27])
    assert tensor(r, "p") == ("INT64", (3,), [10, 40, -90])
    r.execute_command("AI.MODELSTORE", "bl", "ONNX", "CPU", "BLOB", models.bool_logic())
    r.execute_command("AI.TENSORSET", "p1", "BOOL", 4, "VALUES", 0, 0, 1, 1)
    r.execute_command("AI.TENSORSET", "q1", "BOOL", 4, "VALUES", 0, 1, 0, 1)
    r.execute_command("AI.MODELEXECUTE", "bl", "INPUTS", 2, "p1", "q1", "OUTPUTS", 2, "n", "a1")
    assert tensor(r, "n") == ("BOOL", (4,), [1, 1, 0, 0])
    assert tensor(r, "a1") == ("BOOL", (4,), [0, 0, 0, 1])


def test_e2e_string_identity(r):
    r.execute_command("AI.MODELSTORE", "sid", "ONNX", "CPU", "BLOB", models.string_identity())
    r.execute_command("AI.TENSORSET", "s", "STRING", 3, "VALUES", "hello", "", "wörld")
    r.execute_command("AI.MODELEXECUTE", "sid", "INPUTS", 1, "s", "OUTPUTS", 1, "out")
    assert tensor(r, "out") == ("STRING", (3,), [b"hello", b"", "wörld".encode()])


def test_e2e_errors_are_ort_texts_and_server_survives(r):
    blob = np.random.default_rng(6).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("AI.MODELSTORE", "bad", "ONNX", "CPU", "BLOB", blob)
    assert str(e.value) == "Failed to load model because protobuf parsing failed."
    assert r.exists("bad") == 0
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.TENSORSET", "xi", "INT32", 1, 3, "VALUES", 1, 2, 3)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "xi", "OUTPUTS", 1, "y")
    assert str(e.value).startswith("Unexpected input data type. Actual: (tensor(int32)) , expected: (tensor(float))")
    r.execute_command("AI.TENSORSET", "xs", "FLOAT", 1, 4, "VALUES", 1, 2, 3, 4)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "xs", "OUTPUTS", 1, "y")
    assert str(e.value).startswith("Got invalid dimensions for input: x for the following indices")
    assert r.exists("y") == 0
    assert r.ping()


def test_e2e_concurrent_clients_two_workers(server_factory):
    srv = server_factory(modules=[(ENGINE, ["THREADS_PER_QUEUE", 2, "INTRA_OP_PARALLELISM", 1])])
    r = srv.client()
    model = models.conv_net()
    r.execute_command("AI.MODELSTORE", "cnn", "ONNX", "CPU", "BLOB", model)
    xs = [np.random.default_rng(10 + i).standard_normal((2, 1, 8, 8)).astype(np.float32) for i in range(4)]
    failures = []

    def client(i):
        c = srv.client()
        c.execute_command("AI.TENSORSET", f"x{i}", "FLOAT", 2, 1, 8, 8, "BLOB", xs[i].tobytes())
        (expected,) = reference(model, image=xs[i])
        for _ in range(25):
            c.execute_command("AI.MODELEXECUTE", "cnn", "INPUTS", 1, f"x{i}", "OUTPUTS", 1, f"y{i}")
            got = blob_of(c, f"y{i}", np.float32)
            if not np.allclose(got, expected.ravel(), rtol=1e-6, atol=1e-7):
                failures.append(i)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert srv.alive()


def test_e2e_model_execution_timeout(server_factory):
    srv = server_factory(modules=[(ENGINE, ["MODEL_EXECUTION_TIMEOUT", 1000])])
    r = srv.client()
    r.execute_command("AI.MODELSTORE", "slow", "ONNX", "CPU", "BLOB", models.slow_matmuls())
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.TENSORSET", "one", "FLOAT", 1, "VALUES", 1)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("AI.MODELEXECUTE", "slow", "INPUTS", 1, "one", "OUTPUTS", 1, "y")
    assert str(e.value) == "Exiting due to terminate flag being set to true."
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 1, 1)
    assert r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y") == b"OK"
    assert tensor(r, "y") == ("FLOAT", (1, 2), [b"9.5", b"11"])
