"""TorchScript extensions inside scripts (spec §4.12): redis.execute,
redis.asList and redisAI.model_execute, called as scripts written for RedisAI
1.2.7 call them.  Replies, stored data, exact error texts, replication and the
threads a script can run on (engine worker, Redis's main thread)."""
import os
import threading
import warnings

import numpy as np
import pytest
import redis

import model_cases  # noqa: F401  (puts tests/backends on the path)
import models
from script_helpers import needs_torch
from support.server import BUILD, ENGINE, ON_VALKEY, RedisServer
from tensor_helpers import WRONGTYPE, RawClient, wait_for

pytestmark = needs_torch

LLAPI = os.path.join(BUILD, "tests", "llapi_test.so")

SOURCE = '''
def to_int_tensor(value: Any):
    return torch.tensor(int(str(value)))

def set_key_get_val(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute("SET", keys[0], args[0])
    res = redis.execute("GET", keys[0])
    return to_int_tensor(res)

def set_incr(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute("SET", [keys[0], args[0]])
    return to_int_tensor(redis.execute("INCR", keys[0]))

def float_get(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute("SET", keys[0], args[0])
    return torch.tensor(float(str(redis.execute("GET", keys[0]))))

def hash_values(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute("HSET", keys[0], "a", args[0], "b", args[1])
    values = redis.asList(redis.execute("HVALS", keys[0]))
    return torch.cat([torch.tensor(int(str(v))).reshape(1, 1) for v in values], dim=0)

def list_values(tensors: List[Tensor], keys: List[str], args: List[str]):
    for a in args:
        redis.execute("RPUSH", keys[0], a)
    values = redis.asList(redis.execute("LRANGE", keys[0], "0", "-1"))
    return torch.tensor([int(str(v)) for v in values])

def copy_value(tensors: List[Tensor], keys: List[str], args: List[str]):
    value = redis.execute("GET", keys[0])
    if isinstance(value, str):
        redis.execute("SET", keys[1], value)
    return torch.tensor(len(keys))

def sum_keys(tensors: List[Tensor], keys: List[str], args: List[str]):
    total = 0
    for k in keys:
        total += int(str(redis.execute("GET", k)))
    redis.execute("SET", args[0], total)
    redis.execute("SET", args[1], 0.25)
    return torch.tensor(total)

def is_nil(value: Any):
    # `value is None` is always False for an Any in TorchScript: test the type
    return isinstance(value, NoneType)

def reply_kinds(tensors: List[Tensor], keys: List[str], args: List[str]):
    out: List[int] = []
    ok = redis.execute("SET", keys[0], "41")
    if isinstance(ok, str):
        out.append(len(ok))
    n = redis.execute("INCR", keys[0])
    if isinstance(n, int):
        out.append(n)
    if is_nil(redis.execute("GET", keys[1])):
        out.append(-1)
    pair = redis.asList(redis.execute("MGET", keys[0], keys[1]))
    out.append(len(pair))
    if is_nil(pair[1]):
        out.append(-2)
    scan = redis.asList(redis.execute("SCAN", "0", "MATCH", keys[0], "COUNT", "1000"))
    out.append(len(redis.asList(scan[1])))
    return torch.tensor(out)

def call(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute(args[0], args[1:])
    return torch.tensor(1)

def set_then_fail(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute("SET", keys[0], "written")
    redis.execute("SET", keys[0])
    return torch.tensor(1)

def tensor_argument(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute("SET", keys[0], tensors[0])
    return torch.tensor(1)

def as_list_of_reply(tensors: List[Tensor], keys: List[str], args: List[str]):
    return torch.tensor(len(redis.asList(redis.execute(args[0], keys[0]))))

def run_model(tensors: List[Tensor], keys: List[str], args: List[str]):
    return redisAI.model_execute(keys[0], tensors, int(args[0]))

def model_on_constants(tensors: List[Tensor], keys: List[str], args: List[str]):
    a = torch.tensor([[2.0, 3.0], [2.0, 3.0]])
    b = torch.tensor([[2.0, 3.0], [2.0, 3.0]])
    return redisAI.model_execute(keys[0], [a, b], 1)

def chain(tensors: List[Tensor], keys: List[str], args: List[str]):
    y = redisAI.model_execute(keys[0], [tensors[0]], 1)[0]
    return redisAI.model_execute(keys[1], [y, y * 2], 2)

def counter_plus(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] + int(str(redis.execute("INCR", "api:counter")))

def api_model(tensors: List[Tensor], keys: List[str], args: List[str]):
    return redisAI.model_execute("api:model", [tensors[0]], 1)[0]

def fill(tensors: List[Tensor], keys: List[str], args: List[str]):
    for i in range(int(args[0])):
        redis.execute("SETRANGE", keys[0] + str(i), "8000000", "x")
    return torch.tensor(int(args[0]))

def read_counter(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] + int(str(redis.execute("GET", "api:counter")))

def old_flushall(a: Tensor):
    redis.execute("FLUSHALL")
    return a
'''
ENTRY_POINTS = ["set_key_get_val", "set_incr", "float_get", "hash_values", "list_values", "copy_value",
                "sum_keys", "reply_kinds", "call", "set_then_fail", "tensor_argument", "as_list_of_reply",
                "run_model", "model_on_constants", "chain", "counter_plus", "api_model", "fill",
                "read_counter"]

LINEAR_IN = np.array([[1, 2, 3], [0, -1, 0.5]], dtype=np.float32)
LINEAR_OUT = LINEAR_IN @ models.LINEAR_W + models.LINEAR_B
# RedisAI's wording: every redis.execute failure is prefixed, and a wrong
# arity is reported as RedisModule_Call's EINVAL
CALL_ERR = b"Redis command returned an error: "
ARITY_SET = CALL_ERR + b"Invalid argument"
NUM_OUTPUTS = b"redisAI.model_execute: num_outputs must be between 1 and 1024"


def store_script(r, key="s"):
    return r.execute_command("AI.SCRIPTSTORE", key, "CPU", "ENTRY_POINTS", len(ENTRY_POINTS), *ENTRY_POINTS,
                             "SOURCE", SOURCE)


def torch_blob(cls_name):
    import torch

    import torch_models
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream, and is what models are
        return torch_models.save(torch.jit.script(getattr(torch_models, cls_name)()))


def execute(c, fn, keys=(), inputs=(), args=(), outputs=("y",)):
    cmd = ["AI.SCRIPTEXECUTE", "s", fn]
    if keys:
        cmd += ["KEYS", len(keys), *keys]
    if inputs:
        cmd += ["INPUTS", len(inputs), *inputs]
    if args:
        cmd += ["ARGS", len(args), *args]
    cmd += ["OUTPUTS", len(outputs), *outputs]
    return c.execute_command(*cmd)


def values(r, key):
    return r.execute_command("AI.TENSORGET", key, "META", "VALUES")


def set_array(r, key, a):
    dtype = {np.float32: "FLOAT", np.int64: "INT64"}[a.dtype.type]
    return r.execute_command("AI.TENSORSET", key, dtype, *a.shape, "BLOB", a.tobytes())


def get_array(r, key):
    meta = r.execute_command("AI.TENSORGET", key, "META", "BLOB")
    dtype = {b"FLOAT": np.float32, b"INT64": np.int64}[meta[1]]
    return np.frombuffer(meta[5], dtype=dtype).reshape(meta[3])


@pytest.fixture(scope="module")
def shared():
    """One server (two workers on the CPU queue) for the tests below; each
    test starts from FLUSHALL with the script stored again."""
    srv = RedisServer(modules=[(ENGINE, ["THREADS_PER_QUEUE", 2])]).start()
    yield srv
    srv.stop()


@pytest.fixture
def r(shared):
    c = shared.client()
    c.flushall()
    assert store_script(c) == b"OK"
    yield c
    assert shared.alive()


@pytest.fixture
def raw(shared):
    c = RawClient(shared.sock)
    yield c
    c.close()


# ---- redis.execute: replies and stored data ----------------------------------

def test_set_then_get_returns_the_value(r):
    assert execute(r, "set_key_get_val", keys=["x"], args=["3"]) == b"OK"
    assert values(r, "y") == [b"dtype", b"INT64", b"shape", [], b"values", [3]]
    assert r.get("x") == b"3"


def test_incr_returns_an_integer(r):
    assert execute(r, "set_incr", keys=["x"], args=["41"]) == b"OK"
    assert values(r, "y")[-1] == [42]
    assert r.get("x") == b"42"


def test_float_string_value(r):
    execute(r, "float_get", keys=["x"], args=["1.25"])
    assert values(r, "y")[:2] == [b"dtype", b"FLOAT"] and values(r, "y")[-1] == [b"1.25"]


def test_hash_values_through_as_list(r):
    execute(r, "hash_values", keys=["h"], args=["7", "9"])
    assert values(r, "y") == [b"dtype", b"INT64", b"shape", [2, 1], b"values", [7, 9]]
    assert r.hgetall("h") == {b"a": b"7", b"b": b"9"}


def test_list_reply(r):
    execute(r, "list_values", keys=["l"], args=["5", "-2", "11"])
    assert values(r, "y")[-1] == [5, -2, 11]
    assert r.lrange("l", 0, -1) == [b"5", b"-2", b"11"]


def test_reply_types_nil_and_nested_arrays(r):
    # SET -> str "OK", INCR -> int, GET of a missing key -> None, MGET -> a
    # list with a None, SCAN -> [cursor, [keys]]
    execute(r, "reply_kinds", keys=["n", "missing"])
    assert values(r, "y")[-1] == [2, 42, -1, 2, -2, 1]


def test_strings_are_copied_both_ways_byte_exact(r):
    value = "héllo wörld ✓ \x01 end".encode()
    r.set("src", value)
    execute(r, "copy_value", keys=["src", "dst"])
    assert r.get("dst") == value
    execute(r, "copy_value", keys=["nothing", "dst2"])  # nil: nothing copied
    assert r.exists("dst2") == 0


def test_keys_from_keys_and_int_float_arguments(r):
    r.mset({"a": 20, "b": 22})
    execute(r, "sum_keys", keys=["a", "b"], args=["total", "quarter"])
    assert values(r, "y")[-1] == [42]
    assert r.get("total") == b"42" and r.get("quarter") == b"0.25"


def test_list_form_of_arguments(r):
    assert execute(r, "call", keys=["h"], args=["HSET", "h", "f1", "v1", "f2", "v2"]) == b"OK"
    assert r.hgetall("h") == {b"f1": b"v1", b"f2": b"v2"}


def test_ai_commands_from_a_script(r):
    execute(r, "call", keys=["t"], args=["AI.TENSORSET", "t", "FLOAT", "2", "VALUES", "1.5", "2"])
    assert values(r, "t") == [b"dtype", b"FLOAT", b"shape", [2], b"values", [b"1.5", b"2"]]


# ---- redis.execute / redis.asList: errors ------------------------------------

@pytest.mark.parametrize("args, text", [
    (["SET", "k"], ARITY_SET),
    (["NOSUCHCMD", "k"], CALL_ERR + b"ERR unknown command 'NOSUCHCMD', with args beginning with: 'k'"),
    (["INCR", "h"], CALL_ERR + WRONGTYPE),
    (["AI.SCRIPTEXECUTE", "s", "call", "KEYS", "1", "k", "ARGS", "1", "PING", "OUTPUTS", "1", "y"],
     CALL_ERR + b"ERR Cannot run RedisAI command within a transaction or a LUA script"),
    # commands a script may not run, as with redis.call in Lua (WAIT and SYNC crashed Redis, PSYNC too)
    (["WAIT", "1", "100"], CALL_ERR + b"ERR command 'wait' is not allowed on script mode"),
    (["SYNC"], CALL_ERR + b"ERR command 'sync' is not allowed on script mode"),
    (["PSYNC", "?", "-1"], CALL_ERR + b"ERR command 'psync' is not allowed on script mode"),
    (["CLIENT", "PAUSE", "1000"], CALL_ERR + b"ERR command 'client|pause' is not allowed on script mode"),
    (["MULTI"], CALL_ERR + b"ERR command 'multi' is not allowed on script mode"),
])
def test_error_reply_is_the_script_error(r, raw, args, text):
    r.hset("h", "f", "v")
    assert raw.error("AI.SCRIPTEXECUTE", "s", "call", "KEYS", 1, "k", "ARGS", len(args), *args, "OUTPUTS", 1, "y") == \
        text
    assert r.exists("y", "k") == 0
    assert r.hgetall("h") == {b"f": b"v"}
    assert r.execute_command("AI.INFO", "s")[-4:] == [b"calls", 1, b"errors", 1]


def test_writes_before_the_error_stay(r, raw):
    assert raw.error("AI.SCRIPTEXECUTE", "s", "set_then_fail", "KEYS", 1, "k", "OUTPUTS", 1, "y") == ARITY_SET
    assert r.get("k") == b"written"  # like a Redis script: no rollback
    assert r.exists("y") == 0


def test_argument_of_another_type(r, raw):
    set_array(r, "t", np.ones(2, dtype=np.float32))
    assert raw.error("AI.SCRIPTEXECUTE", "s", "tensor_argument", "KEYS", 1, "k", "INPUTS", 1, "t",
                     "OUTPUTS", 1, "y") == \
        b"redis.execute: argument 2 is a Tensor; expected str, int, float or List[str]"
    assert r.exists("k", "y") == 0


def test_as_list_of_a_reply_that_is_not_a_list(r, raw):
    r.set("str", "v")
    assert raw.error("AI.SCRIPTEXECUTE", "s", "as_list_of_reply", "KEYS", 1, "str", "ARGS", 1, "GET",
                     "OUTPUTS", 1, "y") == b"redis.asList: expected a list reply, got String"
    assert raw.error("AI.SCRIPTEXECUTE", "s", "as_list_of_reply", "KEYS", 1, "none", "ARGS", 1, "GET",
                     "OUTPUTS", 1, "y") == b"redis.asList: expected a list reply, got None"
    execute(r, "as_list_of_reply", keys=["none"], args=["SMEMBERS"])  # empty list
    assert values(r, "y")[-1] == [0]


def test_server_keeps_serving_after_errors(r, raw):
    for _ in range(20):
        raw.error("AI.SCRIPTEXECUTE", "s", "call", "KEYS", 1, "k", "ARGS", 2, "SET", "k", "OUTPUTS", 1, "y")
    assert execute(r, "set_key_get_val", keys=["x"], args=["8"]) == b"OK"
    assert values(r, "y")[-1] == [8]


def test_concurrent_scripts_increment_one_counter(shared, r):
    errors = []

    def client():
        c = shared.client()
        try:
            for _ in range(25):
                assert execute(c, "call", keys=["counter"], args=["INCR", "counter"], outputs=("out",)) == b"OK"
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append(e)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert r.get("counter") == b"100"


def test_script_op_inside_a_dag(r):
    reply = r.execute_command("AI.DAGEXECUTE", "ROUTING", "x", "|>", "AI.SCRIPTEXECUTE", "s", "set_key_get_val",
                              "KEYS", 1, "x", "ARGS", 1, "6", "OUTPUTS", 1, "y", "|>", "AI.TENSORGET", "y", "VALUES")
    assert reply == [b"OK", [6]]
    assert r.get("x") == b"6"


def test_scripts_work_in_the_database_of_their_command(shared):
    """After SELECT 3 a script reads its KEYS and INPUTS from db 3; its
    redis.execute calls and redisAI.model_execute lookups go there too
    (RedisAI used db 0 for those), from AI.SCRIPTEXECUTE and from a DAG."""
    c, db0 = shared.client(db=3), shared.client(db=0)
    c.flushall()
    assert store_script(c) == b"OK"
    assert execute(c, "set_key_get_val", keys=["x"], args=["3"]) == b"OK"
    assert c.get("x") == b"3" and db0.exists("x") == 0
    reply = c.execute_command("AI.DAGEXECUTE", "ROUTING", "d", "|>", "AI.SCRIPTEXECUTE", "s", "set_key_get_val",
                              "KEYS", 1, "d", "ARGS", 1, "6", "OUTPUTS", 1, "y", "|>", "AI.TENSORGET", "y", "VALUES")
    assert reply == [b"OK", [6]]
    assert c.get("d") == b"6" and db0.exists("d") == 0
    c.execute_command("AI.MODELSTORE", "lin", "ONNX", "CPU", "BLOB", models.linear())
    set_array(c, "in", LINEAR_IN)
    assert execute(c, "run_model", keys=["lin"], inputs=["in"], args=["1"]) == b"OK"
    np.testing.assert_allclose(get_array(c, "y"), LINEAR_OUT, rtol=1e-6)
    assert db0.keys() == []


# ---- redisAI.model_execute ------------------------------------------------------

def test_model_execute_onnx(r):
    r.execute_command("AI.MODELSTORE", "lin", "ONNX", "CPU", "BLOB", models.linear())
    set_array(r, "x", LINEAR_IN)
    assert execute(r, "run_model", keys=["lin"], inputs=["x"], args=["1"]) == b"OK"
    np.testing.assert_allclose(get_array(r, "y"), LINEAR_OUT, rtol=1e-6)
    # synchronous on the script's thread, as RedisAI_ModelRun: counted for the script only
    assert r.execute_command("AI.INFO", "lin")[-4:] == [b"calls", 0, b"errors", 0]
    assert r.execute_command("AI.INFO", "s")[-4:] == [b"calls", 1, b"errors", 0]


def test_model_execute_onnx_two_outputs(r):
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.two_in_two_out())
    a, b = np.array([1, 2, 3], dtype=np.int64), np.array([10, -20, 30], dtype=np.int64)
    set_array(r, "a", a)
    set_array(r, "b", b)
    execute(r, "run_model", keys=["m"], inputs=["a", "b"], args=["2"], outputs=("sum", "prod"))
    assert get_array(r, "sum").tolist() == (a + b).tolist()
    assert get_array(r, "prod").tolist() == (a * b).tolist()


def test_model_execute_torch(r):
    r.execute_command("AI.MODELSTORE", "add", "TORCH", "CPU", "BLOB", torch_blob("Add"))
    execute(r, "model_on_constants", keys=["add"])
    assert values(r, "y") == [b"dtype", b"FLOAT", b"shape", [2, 2], b"values", [b"4", b"6", b"4", b"6"]]


def test_model_outputs_feed_torch_and_another_model(r):
    r.execute_command("AI.MODELSTORE", "lin", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.MODELSTORE", "two", "TORCH", "CPU", "BLOB", torch_blob("TwoOutputs"))
    set_array(r, "x", LINEAR_IN)
    execute(r, "chain", keys=["lin", "two"], inputs=["x"], outputs=("sum", "prod"))
    np.testing.assert_allclose(get_array(r, "sum"), LINEAR_OUT * 3, rtol=1e-6)
    np.testing.assert_allclose(get_array(r, "prod"), LINEAR_OUT * LINEAR_OUT * 2, rtol=1e-6)


def test_model_execute_errors(r, raw):
    r.execute_command("AI.MODELSTORE", "lin", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.MODELSTORE", "add", "TORCH", "CPU", "BLOB", torch_blob("Add"))
    set_array(r, "x", LINEAR_IN)
    r.set("str", "v")

    def err(model, n, inputs=("x",)):
        return raw.error("AI.SCRIPTEXECUTE", "s", "run_model", "KEYS", 1, model, "INPUTS", len(inputs), *inputs,
                         "ARGS", 1, n, "OUTPUTS", 1, "y")

    assert err("nomodel", 1) == b"ERR model key is empty"
    assert err("str", 1) == WRONGTYPE
    assert err("s", 1) == WRONGTYPE  # a script is not a model
    assert err("x", 1) == WRONGTYPE
    assert err("lin", 0) == NUM_OUTPUTS
    assert err("lin", 1025) == NUM_OUTPUTS
    assert err("lin", 1, ("x", "x")) == b"Number of keys given as INPUTS here does not match model definition"
    assert err("add", 1, ("x",)) == b"Number of keys given as INPUTS here does not match model definition"
    assert err("add", 2, ("x", "x")) == b"Torch returned 1 output but 2 were requested"
    assert r.exists("y") == 0
    assert r.execute_command("AI.INFO", "s")[-4:] == [b"calls", 9, b"errors", 9]
    assert execute(r, "run_model", keys=["lin"], inputs=["x"], args=["1"]) == b"OK"  # still fine


def test_model_deleted_after_the_script_is_stored(r, raw):
    r.execute_command("AI.MODELSTORE", "lin", "ONNX", "CPU", "BLOB", models.linear())
    set_array(r, "x", LINEAR_IN)
    execute(r, "run_model", keys=["lin"], inputs=["x"], args=["1"])
    r.execute_command("AI.MODELDEL", "lin")
    assert raw.error("AI.SCRIPTEXECUTE", "s", "run_model", "KEYS", 1, "lin", "INPUTS", 1, "x", "ARGS", 1, 1,
                     "OUTPUTS", 1, "y2") == b"ERR model key is empty"


# ---- persistence and replication of the writes --------------------------------

@pytest.mark.parametrize("db", [0, 5])
def test_writes_reach_a_replica_and_the_aof(server_factory, db):
    """The script's writes, in its command's database, reach the replica
    and survive a restart from the AOF."""
    master = server_factory(tcp=True, config=[("appendonly", "yes")])
    m = master.client(db=db)
    replica = server_factory(config=[("replicaof", "127.0.0.1", master.port)])
    rr = replica.client(db=db)
    wait_for(lambda: rr.info("replication")["master_link_status"] == "up", "replica link")
    store_script(m)
    execute(m, "set_incr", keys=["x"], args=["9"])
    execute(m, "hash_values", keys=["h"], args=["1", "2"], outputs=("hv",))
    m.set("marker", "done")
    wait_for(lambda: rr.get("marker") == b"done", "replication of the writes")
    assert rr.get("x") == b"10"
    assert rr.hgetall("h") == {b"a": b"1", b"b": b"2"}
    assert values(rr, "y")[-1] == [10]  # the output, replicated as AI.TENSORSET
    master.restart()
    m = master.client(db=db)
    assert m.get("x") == b"10" and m.hgetall("h") == {b"a": b"1", b"b": b"2"}


# ---- scripts run through the shared C API ---------------------------------------

def test_extensions_on_the_main_thread_and_on_a_worker(server_factory):
    """RedisAI_ScriptRun runs on the caller's thread (here Redis's main thread,
    which already holds the Redis lock); RedisAI_ScriptRunAsync on a worker."""
    srv = server_factory(modules=[(ENGINE, []), (LLAPI, [])])
    r = srv.client()
    store_script(r)
    set_array(r, "a", np.array([1, 2], dtype=np.float32))
    assert r.execute_command("LLAPI.SCRIPT_RUN", "s", "counter_plus", "a") == [b"2", b"3"]
    assert r.execute_command("LLAPI.SCRIPT_RUN_ASYNC", "s", "counter_plus", "a") == [b"3", b"4"]
    assert r.get("api:counter") == b"2"
    r.execute_command("AI.MODELSTORE", "api:model", "TORCH", "CPU", "BLOB", torch_blob("IntOps"))
    assert r.execute_command("LLAPI.SCRIPT_RUN", "s", "api_model", "a") == [b"-4", b"-1"]
    r.execute_command("AI.MODELSTORE", "api:model", "ONNX", "CPU", "BLOB", models.mul_add())
    assert r.execute_command("LLAPI.SCRIPT_RUN_ASYNC", "s", "api_model", "a") == [b"3", b"5"]
    # ONNX refuses threads that are not engine workers (spec §2.4)
    with pytest.raises(Exception, match="^Cannot execute onnxruntime model synchronously, use async execution"):
        r.execute_command("LLAPI.SCRIPT_RUN", "s", "api_model", "a")
    assert r.ping()


# ---- the caller's ACL rights and maxmemory -----------------------------------

# The server's own text for a key the user may not touch (Valkey 8.1 words it otherwise).
KEY_NOPERM = (b"NOPERM No permissions to access a key" if ON_VALKEY else
              b"NOPERM this user has no permissions to access one of the keys used as arguments")


@pytest.fixture
def app(shared, r):
    """A user kept to pub:* keys and off dangerous commands (FLUSHALL...)."""
    r.execute_command("ACL", "SETUSER", "app", "reset", "on", ">pw", "~pub:*", "+@all", "-@dangerous")
    assert store_script(r, "pub:s") == b"OK"
    c = RawClient(shared.sock)
    assert c.ok("AUTH", "app", "pw") == b"OK"
    yield c
    c.close()


def test_redis_execute_has_the_callers_acl_rights(r, app):
    r.set("secret:1", "s3cret")
    assert app.error("AI.SCRIPTEXECUTE", "pub:s", "copy_value", "KEYS", 2, "secret:1", "pub:copy",
                     "OUTPUTS", 1, "pub:y") == KEY_NOPERM
    assert app.error("AI.SCRIPTEXECUTE", "pub:s", "call", "KEYS", 1, "pub:k", "ARGS", 1, "FLUSHALL",
                     "OUTPUTS", 1, "pub:y") == b"NOPERM this user has no permissions to run the 'flushall' command"
    # a command the user may not run, on a key it may touch
    assert app.error("AI.SCRIPTEXECUTE", "pub:s", "call", "KEYS", 1, "pub:k", "ARGS", 4, "RESTORE", "pub:k", 0, "x",
                     "OUTPUTS", 1, "pub:y") == b"NOPERM this user has no permissions to run the 'restore' command"
    assert r.exists("pub:copy") == 0 and r.get("secret:1") == b"s3cret"
    # what the user may do, it does
    assert app.ok("AI.SCRIPTEXECUTE", "pub:s", "set_key_get_val", "KEYS", 1, "pub:k", "ARGS", 1, "7",
                  "OUTPUTS", 1, "pub:y") == b"OK"
    assert r.get("pub:k") == b"7"
    entry = r.execute_command("ACL", "LOG", 1)[0]
    assert dict(zip(entry[::2], entry[1::2]))[b"username"] == b"app"
    # the default user is unaffected
    assert execute(r, "copy_value", keys=["secret:1", "pub:copy"]) == b"OK"
    assert r.get("pub:copy") == b"s3cret"


def test_dag_script_ops_and_scriptrun_have_the_callers_rights(r, app):
    r.set("secret:1", "s3cret")
    assert app.error("AI.DAGEXECUTE", "ROUTING", "pub:k", "|>", "AI.SCRIPTEXECUTE", "pub:s", "copy_value",
                     "KEYS", 2, "secret:1", "pub:copy", "OUTPUTS", 1, "y") == KEY_NOPERM
    set_array(r, "pub:t", np.array([1.0], dtype=np.float32))
    assert app.error("AI.SCRIPTRUN", "pub:s", "old_flushall", "INPUTS", "pub:t", "OUTPUTS", "pub:y") == \
        b"NOPERM this user has no permissions to run the 'flushall' command"
    assert r.exists("pub:copy") == 0 and r.get("secret:1") == b"s3cret"


def test_model_execute_in_a_script_has_the_callers_rights(r, app):
    for key in ("secret:lin", "pub:lin"):
        r.execute_command("AI.MODELSTORE", key, "ONNX", "CPU", "BLOB", models.linear())
    set_array(r, "pub:x", LINEAR_IN)
    assert app.error("AI.SCRIPTEXECUTE", "pub:s", "run_model", "KEYS", 1, "secret:lin", "INPUTS", 1, "pub:x",
                     "ARGS", 1, 1, "OUTPUTS", 1, "pub:y") == KEY_NOPERM
    assert app.ok("AI.SCRIPTEXECUTE", "pub:s", "run_model", "KEYS", 1, "pub:lin", "INPUTS", 1, "pub:x",
                  "ARGS", 1, 1, "OUTPUTS", 1, "pub:y") == b"OK"
    np.testing.assert_allclose(get_array(r, "pub:y"), LINEAR_OUT, rtol=1e-6)
    r.execute_command("ACL", "SETUSER", "app", "-ai.modelexecute")
    assert app.error("AI.SCRIPTEXECUTE", "pub:s", "run_model", "KEYS", 1, "pub:lin", "INPUTS", 1, "pub:x",
                     "ARGS", 1, 1, "OUTPUTS", 1, "pub:y") == \
        b"NOPERM this user has no permissions to run the 'ai.modelexecute' command"


def test_writes_over_maxmemory_are_refused_reads_still_work(server_factory):
    srv = server_factory(modules=[(ENGINE, []), (LLAPI, [])])
    r, raw = srv.client(), RawClient(srv.sock)
    store_script(r)
    set_array(r, "a", np.array([1, 2], dtype=np.float32))
    r.set("api:counter", 5)
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory", used + 20 * 1024 * 1024)
    try:
        # 10 x 8 MB: the writes stop once the server is over the limit
        assert raw.error("AI.SCRIPTEXECUTE", "s", "fill", "KEYS", 1, "big", "ARGS", 1, 10, "OUTPUTS", 1, "y") == \
            b"Redis command returned an error: OOM command not allowed when used memory > 'maxmemory'."
        written = len(r.keys("big*"))
        assert 2 <= written < 10 and r.info("memory")["used_memory"] - used < 40 * 1024 * 1024
        # Through the C API (a read-only command, which Redis lets run when
        # over the limit): reads go on, writes are refused.
        assert r.execute_command("LLAPI.SCRIPT_RUN", "s", "read_counter", "a") == [b"6", b"7"]
        with pytest.raises(redis.ResponseError, match="command not allowed when used memory > 'maxmemory'"):
            r.execute_command("LLAPI.SCRIPT_RUN", "s", "counter_plus", "a")
    finally:
        r.config_set("maxmemory", 0)
    assert r.get("api:counter") == b"5" and r.strlen("big0") == 8000001


def test_through_the_c_api_a_script_has_full_rights(server_factory):
    """The module calling RedisAI_ScriptRun decides what its caller may do:
    the script itself runs unchecked, as before (here for a user kept to
    pub:* keys, api:counter is outside them)."""
    srv = server_factory(modules=[(ENGINE, []), (LLAPI, [])])
    r = srv.client()
    store_script(r, "pub:s")
    set_array(r, "pub:a", np.array([1, 2], dtype=np.float32))
    r.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~pub:*", "+@all", "-@dangerous")
    app = srv.client(username="app", password="pw")
    assert app.execute_command("LLAPI.SCRIPT_RUN", "pub:s", "counter_plus", "pub:a") == [b"2", b"3"]
    assert r.get("api:counter") == b"1"
