"""The PyPI `redisai` client 1.3.0 against the engine.  The client pins
pytest<8 and redis<5, so it lives in its own venv (.venv-redisai-client,
made by scripts/setup.sh with --no-deps over redis-py 8.1.0); each test runs
redisai_client_driver.py there and checks what it did against the server
through redis-py in this venv."""
import base64
import json
import os
import subprocess

import numpy as np
import pytest

from backends import models
from script_helpers import needs_torch
from support.server import ROOT

CLIENT_PY = os.path.join(ROOT, ".venv-redisai-client", "bin", "python")
DRIVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "redisai_client_driver.py")

# numpy dtype -> engine dtype name
DTYPES = {
    "float32": "FLOAT", "float64": "DOUBLE", "int8": "INT8", "int16": "INT16",
    "int32": "INT32", "int64": "INT64", "uint8": "UINT8", "uint16": "UINT16", "bool": "BOOL",
}


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(np.bool_)
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def spec(a):
    if a.dtype.kind == "U":
        return {"shape": list(a.shape), "strings": a.ravel().tolist()}
    return {"dtype": str(a.dtype), "shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode()}


def array(res):
    if "strings" in res:
        return np.array(res["strings"], dtype="str").reshape(res["shape"])
    return np.frombuffer(base64.b64decode(res["b64"]), dtype=res["dtype"]).reshape(res["shape"])


def drive(engine, ops, protocol=2):
    """Runs `ops` through the client; returns one result dict per op."""
    if not os.access(CLIENT_PY, os.X_OK):
        pytest.fail(".venv-redisai-client is missing: run ./scripts/setup.sh")
    req = json.dumps({"socket": engine.sock, "protocol": protocol, "ops": ops})
    out = subprocess.run([CLIENT_PY, DRIVER], input=req.encode(), capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    reply = json.loads(out.stdout)
    assert reply["versions"]["redisai"] == "1.3.0"
    return reply["results"]


def ok(result):
    assert "error" not in result, result
    return result["ok"]


@pytest.mark.parametrize("protocol", [2, 3])
def test_numpy_arrays_of_every_dtype_round_trip(engine, protocol):
    r = engine.client()
    shapes = {"scalar": (), "vector": (7,), "matrix": (3, 4), "rank3": (2, 3, 2)}
    arrays = {}
    for dt in DTYPES:
        for name, shape in shapes.items():
            arrays["%s:%s" % (dt, name)] = sample(dt, shape, seed=len(arrays))
    arrays["str:vector"] = np.array(["alpha", "", "wörld"], dtype="str")
    arrays["str:matrix"] = np.array([["a", "bc"], ["def", "g"]], dtype="str")
    ops = [{"op": "tensorset", "key": k, "array": spec(a)} for k, a in arrays.items()]
    ops += [{"op": "tensorget", "key": k} for k in arrays]
    results = drive(engine, ops, protocol)
    sets, gets = results[:len(arrays)], results[len(arrays):]
    assert all(ok(res) == "OK" for res in sets)
    for (key, a), got in zip(arrays.items(), gets):
        # what the client stored, as the server reports it
        _, dtype, _, shape, _, blob = r.execute_command("AI.TENSORGET", key, "META", "BLOB")
        if a.dtype.kind == "U":
            assert dtype == b"STRING"
            assert blob == b"".join(s.encode() + b"\0" for s in a.ravel())
        else:
            assert dtype.decode() == DTYPES[str(a.dtype)], key
            assert blob == a.tobytes(), key
        assert shape == list(a.shape), key
        # and what the client reads back
        back = array(ok(got))
        assert back.dtype == a.dtype and back.shape == a.shape, key
        np.testing.assert_array_equal(back, a)


def test_client_reads_tensors_written_by_other_clients(engine):
    r = engine.client()
    r.execute_command("AI.TENSORSET", "v", "INT16", 2, 2, "VALUES", -1, 2, -3, 4)
    r.execute_command("AI.TENSORSET", "z", "DOUBLE", 3)
    r.execute_command("AI.TENSORSET", "s", "STRING", "VALUES", "just one")
    big = sample("float32", (1024, 4096), seed=9)  # 16 MB: the borrowed-blob path
    r.execute_command("AI.TENSORSET", "big", "FLOAT", 1024, 4096, "BLOB", big.tobytes())
    # (as_numpy_mutable uses np.fromstring, which numpy 2 removed: client bug)
    res = drive(engine, [{"op": "tensorget", "key": k} for k in ("v", "z", "s", "big")])
    v, z, s, got_big = (array(ok(x)) for x in res)
    np.testing.assert_array_equal(v, np.array([[-1, 2], [-3, 4]], np.int16))
    assert v.dtype == np.int16
    np.testing.assert_array_equal(z, np.zeros(3))
    assert s.shape == () and str(s) == "just one"
    np.testing.assert_array_equal(got_big, big)
    assert ok(res[3])["writeable"] is False  # a view on the reply, no copy


@pytest.mark.parametrize("protocol", [2, 3])
def test_lists_values_and_meta(engine, protocol):
    ops = [
        {"op": "tensorset_list", "key": "f", "values": [1.5, -2.25, 3, 4], "shape": [2, 2], "dtype": "float"},
        {"op": "tensorset_list", "key": "i", "values": [7, -8, 9], "dtype": "int64"},
        {"op": "tensorset_list", "key": "b", "values": [1, 0], "dtype": "bool"},
        {"op": "tensorget_list", "key": "f"},
        {"op": "tensorget_list", "key": "i"},
        {"op": "tensorget_list", "key": "b"},
        {"op": "tensorget_meta", "key": "f"},
    ]
    res = [ok(x) for x in drive(engine, ops, protocol)]
    assert res[:3] == ["OK"] * 3
    assert res[3] == {"dtype": "FLOAT", "shape": [2, 2], "values": [1.5, -2.25, 3.0, 4.0]}
    assert res[4] == {"dtype": "INT64", "shape": [3], "values": [7, -8, 9]}
    assert res[5] == {"dtype": "BOOL", "shape": [2], "values": [1, 0]}
    assert res[6] == {"dtype": "FLOAT", "shape": [2, 2]}


@pytest.mark.parametrize("transaction", [False, True])
def test_pipelines(engine, transaction):
    a, b = sample("int32", (4, 2), 1), sample("float64", (3,), 2)
    op = {"op": "pipeline", "transaction": transaction,
          "set": [["pa", spec(a)], ["pb", spec(b)]], "get": ["pa", "pb"]}
    out = ok(drive(engine, [op])[0])
    assert out[:2] == ["OK", "OK"]
    np.testing.assert_array_equal(array(out[2]), a)
    np.testing.assert_array_equal(array(out[3]), b)


def test_errors_reach_the_client_and_keep_data(engine):
    r = engine.client()
    r.execute_command("AI.TENSORSET", "keep", "INT8", 2, "VALUES", 1, 2)
    r.set("plain", "x")
    ops = [
        {"op": "tensorset", "key": "keep", "array": spec(np.arange(3, dtype=np.uint32))},
        {"op": "tensorset_list", "key": "keep", "values": [1, 2, 3], "shape": [2], "dtype": "int8"},
        {"op": "tensorset_list", "key": "keep", "values": [1, 300], "dtype": "int8"},
        {"op": "tensorset", "key": "plain", "array": spec(np.arange(2, dtype=np.int8))},
        {"op": "tensorget", "key": "missing"},
        {"op": "tensorget", "key": "plain"},
    ]
    res = drive(engine, ops)
    # redis-py takes the "ERR " prefix off; the rest is the engine's text
    assert [(x.get("error"), x.get("text")) for x in res] == [
        ("ResponseError", "invalid data type"),  # the client maps uint32 to UINT32
        ("ResponseError", "wrong number of values was given in 'AI.TENSORSET' command"),
        ("ResponseError", "invalid value"),
        ("ResponseError", "WRONGTYPE Operation against a key holding the wrong kind of value"),
        ("ResponseError", "tensor key is empty or in a different shard"),
        ("ResponseError", "WRONGTYPE Operation against a key holding the wrong kind of value"),
    ]
    assert r.execute_command("AI.TENSORGET", "keep", "VALUES") == [1, 2]
    assert r.get("plain") == b"x"


def test_modelstore_and_modelexecute(engine, tmp_path):
    path = tmp_path / "linear.onnx"
    path.write_bytes(models.linear())
    x = sample("float32", (5, 3), 4)
    ops = [
        {"op": "modelstore", "key": "m", "backend": "onnx", "path": str(path), "tag": "v1"},
        {"op": "modelget", "key": "m"},
        {"op": "tensorset", "key": "x", "array": spec(x)},
        {"op": "modelexecute", "key": "m", "inputs": ["x"], "outputs": ["y"]},
        {"op": "tensorget", "key": "y"},
    ]
    res = [ok(r) for r in drive(engine, ops)]
    assert res[0] == "OK" and res[2] == "OK" and res[3] == "OK"
    assert res[1]["backend"] == "ONNX" and res[1]["device"] == "CPU" and res[1]["tag"] == "v1"
    y = array(res[4])
    assert y.dtype == np.float32 and y.shape == (5, 2)
    np.testing.assert_allclose(y, x @ models.LINEAR_W + models.LINEAR_B, rtol=1e-5, atol=1e-5)


OLD_STYLE_SCRIPT = """
def scaled_sum(a: Tensor, xs: List[Tensor]):
    total = torch.zeros_like(a)
    for x in xs:
        total = total + x
    return a * total
"""

NOTE_SCRIPT = """
def note(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute('SET', keys[0], args[0])
"""


@needs_torch
def test_scriptrun_with_a_variadic_list_and_a_function_returning_none(engine):
    r = engine.client()
    a, b, c = (np.array(v, dtype=np.float32) for v in ([1, 2], [10, 20], [11, 22]))
    ops = [
        {"op": "scriptset", "key": "old", "source": OLD_STYLE_SCRIPT},
        *({"op": "tensorset", "key": k, "array": spec(v)} for k, v in (("a", a), ("b", b), ("c", c))),
        # the client passes "$" on as one of the inputs: scaled_sum(a, [b, c])
        {"op": "scriptrun", "key": "old", "function": "scaled_sum", "inputs": ["a", "$", "b", "c"],
         "outputs": ["d"]},
        {"op": "tensorget", "key": "d"},
        {"op": "scriptstore", "key": "n", "source": NOTE_SCRIPT, "entry_points": ["note"]},
        {"op": "scriptexecute", "key": "n", "function": "note", "keys": ["k"], "args": ["written"]},
    ]
    res = [ok(x) for x in drive(engine, ops)]
    assert res[:5] == ["OK"] * 5
    np.testing.assert_array_equal(array(res[5]), a * (b + c))
    assert res[6:] == ["OK", "OK"]
    assert r.get("k") == b"written"


def test_info_sections_by_name_and_by_position(engine, tmp_path):
    """Monitoring that reads INFO through the client: RedisAI 1.2.7's sections
    (spec §7.2), picked by name and by position."""
    path = tmp_path / "linear.onnx"
    path.write_bytes(models.linear())
    ops = [{"op": "modelstore", "key": "m", "backend": "onnx", "path": str(path)},
           {"op": "info_sections"},
           {"op": "info", "section": "ai_versions"},
           {"op": "info", "section": "ai_backends_info"},
           {"op": "info", "section": "ai_cpu"}]
    res = [ok(r) for r in drive(engine, ops)]
    assert res[1] == ["Modules", "ai_versions", "ai_git", "ai_load_time_configs", "ai_backends_info", "ai_cpu"]
    assert [k for k, _ in res[2]] == ["ai_RedisAI_version", "ai_low_level_API_version", "ai_rdb_version"]
    assert dict(res[2])["ai_rdb_version"] == 4
    assert [k for k, _ in res[3]] == ["ai_onnxruntime_version", "ai_onnxruntime_memory",
                                      "ai_onnxruntime_memory_access_num",
                                      "ai_onnxruntime_maximum_run_sessions_number"]
    cpu = dict(res[4])
    assert {"ai_main_thread_used_cpu_sys", "ai_main_thread_used_cpu_user",
            "ai_queue_CPU_bthread_n1_used_cpu_total"} <= set(cpu)
