"""The tensor part of the shared C API, driven by a consumer module."""
import os
import threading

import pytest
import redis

from backends import models
from support.server import BUILD, ENGINE

LLAPI = os.path.join(BUILD, "tests", "llapi_test.so")


@pytest.fixture
def srv(server_factory):
    return server_factory(modules=[(ENGINE, []), (LLAPI, [])])


def test_binds_every_core_entry(srv):
    assert srv.client().execute_command("LLAPI.BIND") == 25


def test_tensor_lifecycle_through_the_api(srv):
    assert srv.client().execute_command("LLAPI.TENSOR_LIFECYCLE") == b"OK"


def test_tensor_made_by_the_api_is_a_normal_key(srv):
    r = srv.client()
    assert r.execute_command("LLAPI.STORE", "k") == b"OK"
    assert r.execute_command("AI.TENSORGET", "k", "VALUES") == [1, 2, 3, 4]
    r.execute_command("AI.TENSORSET", "f", "FLOAT", 2, "VALUES", 1.5, 2)
    assert r.execute_command("LLAPI.READ", "f") == [b"1.5", b"2"]


def test_consumer_loaded_first_binds_lazily(server_factory):
    srv = server_factory(modules=[(LLAPI, []), (ENGINE, [])])
    assert srv.client().execute_command("LLAPI.BIND") == 25


def test_consumer_without_engine_gets_an_error(server_factory):
    srv = server_factory(modules=[(LLAPI, [])])
    with pytest.raises(redis.ResponseError, match="shared API not available"):
        srv.client().execute_command("LLAPI.BIND")


# ---- the script part of the API (tests/engine/llapi_test_module.c, LLAPI.SCRIPT_*) ----

SCRIPT_SRC = '''
def mul(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] * tensors[1]

def old_sum(xs: List[Tensor]):
    return torch.stack(xs).sum(0)
'''
ADD_SRC = "def add(a: Tensor, b: Tensor):\n    return a + b\n"
TORCH_LIB = os.path.join(BUILD, "backends", "redisai_torch", "redisai_torch.so")
needs_torch = pytest.mark.skipif(not os.path.exists(TORCH_LIB), reason="TORCH backend not built")


def script_setup(r):
    r.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "mul", "SOURCE", SCRIPT_SRC)
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 3, "VALUES", 1, 2, 3)
    r.execute_command("AI.TENSORSET", "b", "FLOAT", 3, "VALUES", 4, 5, 6.5)


def test_binds_every_script_entry(srv):
    assert srv.client().execute_command("LLAPI.SCRIPT_BIND") == 17


@needs_torch
def test_script_run_sync_and_async(srv):
    r = srv.client()
    script_setup(r)
    assert r.execute_command("LLAPI.SCRIPT_RUN", "s", "mul", "a", "b") == [b"4", b"10", b"19.5"]
    # a list of inputs reaches a List[Tensor] function
    assert r.execute_command("LLAPI.SCRIPT_RUN", "s", "old_sum", "a", "b", "b") == [b"9", b"12", b"16"]
    assert r.execute_command("AI.INFO", "s")[-4:] == [b"calls", 0, b"errors", 0]  # sync runs are not counted
    assert r.execute_command("LLAPI.SCRIPT_RUN_ASYNC", "s", "mul", "a", "b") == [b"4", b"10", b"19.5"]
    with pytest.raises(redis.ResponseError, match="Function does not exist: nope"):
        r.execute_command("LLAPI.SCRIPT_RUN_ASYNC", "s", "nope", "a")
    assert r.execute_command("AI.INFO", "s")[-4:] == [b"calls", 2, b"errors", 1]


@needs_torch
def test_script_run_errors_through_the_api(srv):
    r = srv.client()
    script_setup(r)
    with pytest.raises(redis.ResponseError, match="^script key is empty$"):
        r.execute_command("LLAPI.SCRIPT_RUN", "nokey", "mul", "a", "b")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE Operation against a key holding the wrong kind of value$"):
        r.execute_command("LLAPI.SCRIPT_RUN_ASYNC", "a", "mul", "a", "b")
    with pytest.raises(redis.ResponseError, match="Function does not exist: nope"):
        r.execute_command("LLAPI.SCRIPT_RUN", "s", "nope", "a", "b")
    r.execute_command("AI.TENSORSET", "c", "FLOAT", 2, "VALUES", 1, 2)
    with pytest.raises(redis.ResponseError, match="size of tensor a .3. must match the size of tensor b .2."):
        r.execute_command("LLAPI.SCRIPT_RUN", "s", "mul", "a", "c")
    with pytest.raises(redis.ResponseError, match="^not a tensor$"):
        r.execute_command("LLAPI.SCRIPT_RUN", "s", "mul", "a", "s")


@needs_torch
def test_script_create_through_the_api(srv):
    r = srv.client()
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 2, "VALUES", 1, 2)
    # the shared API does not load backends
    assert r.execute_command("LLAPI.SCRIPT_CREATE_RUN", "CPU", ADD_SRC, "add", "a", "a") == [
        12, b"ERR Backend not loaded: TORCH"]
    assert r.execute_command("AI.CONFIG", "LOADBACKEND", "TORCH", "redisai_torch/redisai_torch.so") == b"OK"
    assert r.execute_command("LLAPI.SCRIPT_CREATE_RUN", "CPU", ADD_SRC, "add", "a", "a") == [b"2", b"4"]
    assert r.execute_command("LLAPI.SCRIPT_CREATE_RUN", "GPU", ADD_SRC, "add", "a", "a") == [
        9, b"ERR GPU device requested but this build of the engine has no GPU support"]
    code, text = r.execute_command("LLAPI.SCRIPT_CREATE_RUN", "CPU", "def add(:\n", "add", "a", "a")
    assert code == 9 and text and b"\n" not in text
    assert r.execute_command("LLAPI.SCRIPT_CREATE_RUN", "CPU", ADD_SRC, "sub", "a", "a") == [
        10, b"Function does not exist: sub"]
    # API scripts have no AI.INFO entry and leave nothing behind
    assert r.execute_command("AI._SCRIPTSCAN") == []


# ---- the DAG part of the API (tests/engine/llapi_test_module.c, LLAPI.DAG_*) ----

def dag_setup(r):
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 1, 1)


def test_binds_every_dag_entry(srv):
    assert srv.client().execute_command("LLAPI.DAG_BIND") == 18


def test_dag_built_through_the_api_runs(srv):
    r = srv.client()
    dag_setup(r)
    # outputs: TENSORGET y (API op), TENSORGET z (op string), TENSORGET k (API TENSORSET)
    assert r.execute_command("LLAPI.DAG_RUN", "m", "x") == [[b"9.5", b"11"], [b"5", b"6"], [b"3"]]
    info = r.execute_command("AI.INFO", "m")
    assert info[info.index(b"calls") + 1] == 2  # the API op and the op from the string
    assert r.exists("y") == 0 and r.exists("z") == 0 and r.exists("y2") == 0


@needs_torch
def test_dag_with_script_op_through_the_api(srv):
    r = srv.client()
    dag_setup(r)
    r.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "mul", "SOURCE", SCRIPT_SRC)
    assert r.execute_command("LLAPI.DAG_RUN", "m", "x", "s", "mul") == [
        [b"9.5", b"11"], [b"5", b"6"], [b"47.5", b"66"], [b"3"]]
    with pytest.raises(redis.ResponseError, match="^Function does not exist: nope$"):
        r.execute_command("LLAPI.DAG_RUN", "m", "x", "s", "nope")


def test_dag_run_error_reaches_the_callback(srv):
    r = srv.client()
    dag_setup(r)
    r.execute_command("AI.TENSORSET", "bad", "FLOAT", 3, "VALUES", 1, 2, 3)
    with pytest.raises(redis.ResponseError, match="^Invalid rank for input: x Got: 1 Expected: 2"):
        r.execute_command("LLAPI.DAG_RUN", "m", "bad")
    with pytest.raises(redis.ResponseError, match="^model key is empty$"):
        r.execute_command("LLAPI.DAG_RUN", "nomodel", "x")
    assert srv.alive()


def test_dag_api_error_paths(srv):
    r = srv.client()
    dag_setup(r)
    assert r.execute_command("LLAPI.DAG_ERRORS", "m") == b"OK"


def test_many_api_dags_at_once(srv):
    dag_setup(srv.client())
    failures = []

    def client():
        rc = srv.client()
        for _ in range(20):
            reply = rc.execute_command("LLAPI.DAG_RUN", "m", "x")
            if reply != [[b"9.5", b"11"], [b"5", b"6"], [b"3"]]:
                failures.append(reply)

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# ---- the model part of the API (tests/engine/llapi_test_module.c, LLAPI.MODEL_*) ----

def floats(reply):
    """Nested replies of doubles (RESP2 bulk strings) as Python floats."""
    return [floats(v) for v in reply] if isinstance(reply, list) else float(reply)


def model_info(r, key):
    reply = r.execute_command("AI.INFO", key)
    info = dict(zip(reply[::2], reply[1::2]))
    return info[b"calls"], info[b"samples"], info[b"errors"]


def model_setup(r):
    """ONNX `lin` (x @ W + b) on x [2,3]; TORCH `add`; inputs a, b [2,2]."""
    import model_cases as mc
    r.execute_command("AI.MODELSTORE", "lin", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 2, 3, "VALUES", 1, 2, 3, 4, 5, 6)
    r.execute_command("AI.MODELSTORE", "add", "TORCH", "CPU", "BLOB", mc.torch_blob("add"))
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 2, 2, "VALUES", 1, 2, 3, 4)
    r.execute_command("AI.TENSORSET", "b", "FLOAT", 2, 2, "VALUES", 10, 20, 30, 40)


LIN_X = [22.5, 27.0, 49.5, 63.0]


def test_binds_every_model_entry(srv):
    assert srv.client().execute_command("LLAPI.MODEL_BIND") == 15


def test_model_run_async_reads_outputs_in_the_callback(srv):
    r = srv.client()
    model_setup(r)
    assert floats(r.execute_command("LLAPI.MODEL_RUN_ASYNC", "lin", 1, "x")) == [LIN_X]
    assert floats(r.execute_command("LLAPI.MODEL_RUN_ASYNC", "add", 1, "a", "b")) == [[11, 22, 33, 44]]
    # async runs of keyspace models count in AI.INFO (spec §2.7)
    assert model_info(r, "lin") == (1, 2, 0)
    assert model_info(r, "add") == (1, 2, 0)


def test_model_run_sync(srv):
    r = srv.client()
    model_setup(r)
    assert floats(r.execute_command("LLAPI.MODEL_RUN", "add", 1, 1, "a", "b")) == [[[11, 22, 33, 44]]]
    assert model_info(r, "add") == (0, 0, 0)  # synchronous runs are not counted
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LLAPI.MODEL_RUN", "lin", 1, 1, "x")
    assert str(e.value) == "Cannot execute onnxruntime model synchronously, use async execution instead"


def test_model_run_sync_batch_of_contexts(srv):
    """RedisAI_ModelRun with n > 1 runs the contexts as one batch: inputs
    concatenated along dim 0, each context gets its own rows back."""
    import model_cases as mc
    r = srv.client()
    model_setup(r)
    r.execute_command("AI.TENSORSET", "a1", "FLOAT", 1, 2, "VALUES", 5, 6)
    r.execute_command("AI.TENSORSET", "b1", "FLOAT", 1, 2, "VALUES", 0.5, 0.25)
    assert floats(r.execute_command("LLAPI.MODEL_RUN", "add", 2, 1, "a", "b", "a1", "b1")) == \
        [[[11, 22, 33, 44]], [[5.5, 6.25]]]
    # a model that drops dim 0 works alone but cannot be run as a batch
    r.execute_command("AI.MODELSTORE", "sum0", "TORCH", "CPU", "BLOB", mc.torch_blob("sum0"))
    assert floats(r.execute_command("LLAPI.MODEL_RUN", "sum0", 1, 1, "a", "b")) == [[[100, 200]]]
    with pytest.raises(redis.ResponseError, match="^Model did not generate the expected batch size$"):
        r.execute_command("LLAPI.MODEL_RUN", "sum0", 2, 1, "a", "b", "a1", "b1")
    r.execute_command("AI.TENSORSET", "a3", "FLOAT", 1, 3, "VALUES", 5, 6, 7)
    with pytest.raises(redis.ResponseError, match="^could not batch the inputs$"):
        r.execute_command("LLAPI.MODEL_RUN", "add", 2, 1, "a", "b", "a3", "a3")


def test_model_api_error_paths(srv):
    r = srv.client()
    model_setup(r)
    assert r.execute_command("LLAPI.MODEL_ERRORS", "lin", "x", "nokey") == b"OK"
    with pytest.raises(redis.ResponseError, match="^model key is empty$"):
        r.execute_command("LLAPI.MODEL_RUN_ASYNC", "nokey", 1, "x")
    # a run error travels through the finish context to the callback
    r.execute_command("AI.TENSORSET", "xi", "INT32", 1, 3, "VALUES", 1, 2, 3)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LLAPI.MODEL_RUN_ASYNC", "lin", 1, "xi")
    assert str(e.value).startswith("Unexpected input data type. Actual: (tensor(int32)) , expected: (tensor(float))")
    with pytest.raises(redis.ResponseError, match="^Number of keys given as INPUTS here does not match"):
        r.execute_command("LLAPI.MODEL_RUN_ASYNC", "lin", 1, "x", "x")
    assert model_info(r, "lin") == (2, 0, 2)
    assert srv.alive()


def test_model_serialize(srv):
    r = srv.client()
    model_setup(r)
    assert r.execute_command("LLAPI.MODEL_SERIALIZE", "lin") == models.linear()
    assert r.execute_command("LLAPI.MODEL_SERIALIZE", "lin") == r.execute_command("AI.MODELGET", "lin", "BLOB")


@pytest.mark.parametrize("backend,modes", [("ONNX", ["ASYNC"]), ("TORCH", ["SYNC", "ASYNC"]),
                                           ("TF", ["SYNC", "ASYNC"])])
def test_models_made_through_the_api_run_and_are_freed(srv, backend, modes):
    """The original crashes when such a model is freed or run async; here
    the model lives as long as its run context and goes with it (on the
    worker thread for async runs)."""
    import model_cases as mc
    r = srv.client()
    model_setup(r)
    case = mc.case(backend)
    case.set_inputs(r)
    lib = {"ONNX": "onnxruntime", "TORCH": "torch", "TF": "tensorflow"}[backend]
    r.execute_command("AI.CONFIG", "LOADBACKEND", backend, f"redisai_{lib}/redisai_{lib}.so")
    names = [name for name, _, _ in case.inputs]
    out = "c" if backend == "TF" else "out"
    expected = [case.outputs[0].ravel().tolist()]
    for mode in modes:
        for _ in range(10):
            reply = r.execute_command("LLAPI.MODEL_CREATE_RUN", mode, backend, "CPU", case.blob, out, *names)
            assert floats(reply) == expected
    assert sorted(k for k, _ in r.execute_command("AI._MODELSCAN")) == [b"add", b"lin"]
    assert srv.alive()


def test_model_create_errors(server_factory):
    srv = server_factory(modules=[(ENGINE, []), (LLAPI, [])])
    r = srv.client()
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
    # the API never loads a backend itself
    assert r.execute_command("LLAPI.MODEL_CREATE_RUN", "ASYNC", "ONNX", "CPU", models.linear(), "y", "x") == \
        [12, b"ERR Backend not loaded: ONNX"]
    r.execute_command("AI.CONFIG", "LOADBACKEND", "ONNX", "redisai_onnxruntime/redisai_onnxruntime.so")
    assert r.execute_command("LLAPI.MODEL_CREATE_RUN", "ASYNC", "ONNX", "CPU", b"junk" * 50, "y", "x") == \
        [3, b"Failed to load model because protobuf parsing failed."]
    assert r.execute_command("LLAPI.MODEL_CREATE_RUN", "SYNC", "ONNX", "CPU", models.linear(), "y", "x") == \
        [4, b"Cannot execute onnxruntime model synchronously, use async execution instead"]
    assert floats(r.execute_command("LLAPI.MODEL_CREATE_RUN", "ASYNC", "ONNX", "CPU", models.linear(), "y", "x")) \
        == [[22.5, 27]]


def test_many_api_model_runs_at_once(srv):
    r = srv.client()
    model_setup(r)
    failures = []

    def client():
        rc = srv.client()
        for _ in range(25):
            reply = floats(rc.execute_command("LLAPI.MODEL_RUN_ASYNC", "lin", 1, "x"))
            if reply != [LIN_X]:
                failures.append(reply)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert model_info(r, "lin") == (100, 200, 0)
