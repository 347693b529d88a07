"""TorchScript scripts through the commands: AI.SCRIPTSTORE/GET/DEL,
AI.SCRIPTEXECUTE, the deprecated AI.SCRIPTSET/SCRIPTRUN, AI._SCRIPTSCAN and
AI.INFO, with the exact error texts of the spec (§4.10-4.12, §4.14)."""
import threading

import numpy as np
import pytest

from script_helpers import ENTRY_POINTS, SOURCE, floats, needs_torch, set_floats, store
from support.server import ENGINE
from tensor_helpers import WRONGTYPE, RawClient, wait_for

pytestmark = needs_torch


@pytest.fixture
def raw(engine):
    c = RawClient(engine.sock)
    yield c
    c.close()


def test_store_get_meta_and_source(r):
    assert store(r, tag="v1") == b"OK"
    assert r.type("s") == b"AI_SCRIPT"
    meta = [b"device", b"CPU", b"tag", b"v1", b"Entry Points", [e.encode() for e in ENTRY_POINTS]]
    assert r.execute_command("AI.SCRIPTGET", "s", "META") == meta
    assert r.execute_command("AI.SCRIPTGET", "s", "SOURCE") == SOURCE.encode()
    full = meta + [b"source", SOURCE.encode()]
    assert r.execute_command("AI.SCRIPTGET", "s") == full
    assert r.execute_command("AI.SCRIPTGET", "s", "source", "meta") == full
    assert r.memory_usage("s") >= len(SOURCE)


def test_store_without_tag_and_replace(r):
    assert store(r, entry_points=["mul"]) == b"OK"
    assert r.execute_command("AI.SCRIPTGET", "s", "META") == [
        b"device", b"CPU", b"tag", b"", b"Entry Points", [b"mul"]]
    assert store(r, device="cpu:1", tag="v2", entry_points=["split", "total"]) == b"OK"
    assert r.execute_command("AI.SCRIPTGET", "s", "META") == [
        b"device", b"cpu:1", b"tag", b"v2", b"Entry Points", [b"split", b"total"]]


def test_scriptget_errors(r, raw):
    assert raw.error("AI.SCRIPTGET", "nope") == b"ERR script key is empty"
    r.set("str", "x")
    assert raw.error("AI.SCRIPTGET", "str") == WRONGTYPE
    store(r)
    assert raw.error("AI.SCRIPTGET", "s", "BLOB") == b"ERR unsupported data format"
    assert raw.error("AI.SCRIPTGET").startswith(b"ERR wrong number of arguments")


def test_scriptdel(r, raw):
    store(r)
    assert r.execute_command("AI.SCRIPTDEL", "s") == b"OK"
    assert r.exists("s") == 0
    assert raw.error("AI.INFO", "s") == b"ERR cannot find run info for key"
    assert raw.error("AI.SCRIPTDEL", "s") == b"ERR script key is empty"
    r.set("str", "x")
    assert raw.error("AI.SCRIPTDEL", "str") == WRONGTYPE
    assert r.get("str") == b"x"
    set_floats(r, "t", [1])
    assert raw.error("AI.SCRIPTDEL", "t") == WRONGTYPE


STORE_ERRORS = [
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "mul", "SOURCE"],
     b"ERR wrong number of arguments for 'ai.scriptstore' command"),
    (["AI.SCRIPTSTORE", "s", "CPU", "TAG", "t", "SOURCE", SOURCE, "x"],
     b"ERR Insufficient arguments, missing script entry points"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", "one", "mul", "SOURCE", SOURCE],
     b"ERR Non numeric entry points number provided to AI.SCRIPTSTORE command"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 0, "mul", "SOURCE", SOURCE],
     b"ERR Insufficient arguments, missing script entry points"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 3, "mul", "SOURCE", SOURCE],
     b"ERR Insufficient arguments, missing script entry points"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "mul", "SRC", SOURCE],
     b"ERR Insufficient arguments, missing script SOURCE"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 2, "mul", "info", SOURCE, "x"],
     b"ERR Insufficient arguments, missing script SOURCE"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "mul", "SOURCE", SOURCE, "extra"],
     b"ERR Insufficient arguments, missing script SOURCE"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "mul", "SOURCE", "def mul\0"],
     b"ERR script SOURCE contains a null character"),
    (["AI.SCRIPTSTORE", "s", "TPU", "ENTRY_POINTS", 1, "mul", "SOURCE", SOURCE], b"ERR Invalid DEVICE"),
    # a C string would have cut these at the NUL: stored as "CPU" and "mul"
    (["AI.SCRIPTSTORE", "s", "CPU\0x", "ENTRY_POINTS", 1, "mul", "SOURCE", SOURCE], b"ERR Invalid DEVICE"),
    (["AI.SCRIPTSET", "s", "CPU\0x", "SOURCE", SOURCE], b"ERR Invalid DEVICE"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "mul\0x", "SOURCE", SOURCE],
     b"ERR entry point name contains a NUL byte"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 2, "mul", "", "SOURCE", SOURCE],
     b"Function  does not exist in the given script."),
    (["AI.SCRIPTSTORE", "s", "GPU:0", "ENTRY_POINTS", 1, "mul", "SOURCE", SOURCE],
     b"ERR GPU device requested but this build of the engine has no GPU support"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 2, "mul", "nope", "SOURCE", SOURCE],
     b"Function nope does not exist in the given script."),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "old_sum", "SOURCE", SOURCE],
     b"Wrong number of inputs in function old_sum. Expected 3 but was 1"),
    (["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "f", "SOURCE",
      "def f(a: Tensor, b: Tensor, c: Tensor):\n    return a\n"],
     b"Wrong inputs type in function f. Expected signature similar to: "
     b"def f(tensors: List[Tensor], keys: List[str], args: List[str])"),
]


@pytest.mark.parametrize("args,text", STORE_ERRORS, ids=range(len(STORE_ERRORS)))
def test_scriptstore_errors_keep_the_old_script(r, raw, args, text):
    store(r, tag="old", entry_points=["mul"])
    assert raw.error(*args) == text
    assert r.execute_command("AI.SCRIPTGET", "s", "META")[3] == b"old"


def test_scriptstore_compile_error_is_one_line(r, raw):
    bad = "def f(tensors: List[Tensor], keys: List[str], args: List[str]:\n    return tensors[0]\n"
    text = raw.error("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "f", "SOURCE", bad)
    assert text and b"\n" not in text and b"\r" not in text
    assert r.exists("s") == 0
    assert raw.error("AI.INFO", "s") == b"ERR cannot find run info for key"


@pytest.mark.parametrize("body,reply", [
    ("(" * 900 + "tensors[0]" + ")" * 900, b"OK"),
    ("-" * 50000 + "tensors[0]", b"OK"),  # deep recursion in libtorch's compiler, on a large stack
    ("tensors[0] if '" + "(" * 5000 + "' else tensors[0]", b"OK"),  # brackets in a string do not count
    ("(" * 20000 + "tensors[0]" + ")" * 20000, b"script source nests brackets more than 1000 deep"),
])
def test_scriptstore_deeply_nested_source(r, raw, body, reply):
    # 20000 nested brackets overflowed the main thread's stack in libtorch's
    # compiler: the server crashed (found by fuzzing).
    source = "def f(tensors: List[Tensor], keys: List[str], args: List[str]):\n    return " + body + "\n"
    cmd = ("AI.SCRIPTSTORE", "deep", "CPU", "ENTRY_POINTS", 1, "f", "SOURCE", source)
    assert (raw.ok(*cmd) if reply == b"OK" else raw.error(*cmd)) == reply
    assert r.ping()


def test_empty_output_is_a_clear_error(r, raw):
    source = ("def empty(tensors: List[Tensor], keys: List[str], args: List[str]):\n"
              "    return torch.zeros(0, 3)\n")
    r.execute_command("AI.SCRIPTSTORE", "e", "CPU", "ENTRY_POINTS", 1, "empty", "SOURCE", source)
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 1)
    assert raw.error("AI.SCRIPTEXECUTE", "e", "empty", "INPUTS", 1, "a", "OUTPUTS", 1, "o") == \
        b"Torch output is empty (a zero dimension)"
    assert r.exists("o") == 0


def test_scriptstore_on_other_type_is_wrongtype(r, raw):
    r.set("str", "x")
    assert raw.error("AI.SCRIPTSTORE", "str", "CPU", "ENTRY_POINTS", 1, "mul", "SOURCE", SOURCE) == WRONGTYPE
    assert r.get("str") == b"x"


def test_scriptstore_without_backends_path(server_factory, tmp_path):
    srv = server_factory(modules=[(ENGINE, ["BACKENDSPATH", str(tmp_path)])])
    raw = RawClient(srv.sock)
    args = ["AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "mul", "SOURCE", SOURCE]
    assert raw.error(*args) == b"ERR Could not load backend"
    raw.close()
    assert "Backend TORCH not loaded, will try loading default backend" in srv.log_tail(50)


def test_execute_tensors_keys_args(r):
    store(r)
    set_floats(r, "a", [2, 3], [1, 2])
    set_floats(r, "b", [4, 5], [1, 2])
    assert r.execute_command("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c") == b"OK"
    assert r.execute_command("AI.TENSORGET", "c", "META", "VALUES") == [
        b"dtype", b"FLOAT", b"shape", [1, 2], b"values", [b"8", b"15"]]
    reply = r.execute_command("AI.SCRIPTEXECUTE", "s", "info", "KEYS", 2, "k1", "key2", "INPUTS", 1, "a",
                              "ARGS", 3, "10", "20", "-4", "OUTPUTS", 1, "i")
    assert reply == b"OK"
    assert r.execute_command("AI.TENSORGET", "i", "META", "VALUES") == [
        b"dtype", b"INT64", b"shape", [4], b"values", [1, 2, 6, 26]]
    # scopes in another order, INPUTS 0, and no OUTPUTS for a function that returns nothing new
    assert r.execute_command("AI.SCRIPTEXECUTE", "s", "info", "INPUTS", 0, "OUTPUTS", 1, "j",
                             "ARGS", 1, "7", "KEYS", 1, "x") == b"OK"
    assert r.execute_command("AI.TENSORGET", "j", "VALUES") == [0, 1, 1, 7]


def test_execute_list_of_inputs_and_two_outputs(r):
    store(r)
    for i in range(5):
        set_floats(r, "t%d" % i, [i, 10 * i])
    keys = ["t%d" % i for i in range(5)]
    assert r.execute_command("AI.SCRIPTEXECUTE", "s", "total", "INPUTS", 5, *keys, "OUTPUTS", 1, "sum") == b"OK"
    assert floats(r, "sum") == [10, 100]
    assert r.execute_command("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "t3", "OUTPUTS", 2, "up", "down") == b"OK"
    assert floats(r, "up") == [4, 31]
    assert floats(r, "down") == [2, 29]
    # an existing output tensor is replaced
    assert r.execute_command("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "t1", "OUTPUTS", 2, "up", "t1") == b"OK"
    assert floats(r, "up") == [2, 11]
    assert floats(r, "t1") == [0, 9]


def test_execute_matches_torch(r):
    store(r)
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 3, 4, "BLOB", a.tobytes())
    r.execute_command("AI.TENSORSET", "b", "FLOAT", 3, 4, "BLOB", b.tobytes())
    r.execute_command("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c")
    got = np.frombuffer(r.execute_command("AI.TENSORGET", "c", "BLOB"), np.float32).reshape(3, 4)
    np.testing.assert_array_equal(got, a * b)


KEYS_MISMATCH = b"ERR Number of pre declared KEYS to be used in the command does not match the number of given arguments"
EXECUTE_ERRORS = [
    (["nope", "mul", "INPUTS", 1, "a"], b"ERR script key is empty"),
    (["str", "mul", "INPUTS", 1, "a"], WRONGTYPE),
    (["s", "", "INPUTS", 1, "a"], b"ERR function name not specified"),
    (["s", "mul\0x", "INPUTS", 2, "a", "a"], b"ERR function name contains a NUL byte"),  # ran mul
    (["s", "mul", "KEYS", 1, "a\0b", "INPUTS", 2, "a", "a"], b"ERR KEYS values must not contain a NUL byte"),
    (["s", "mul", "INPUTS", 2, "a", "a", "ARGS", 1, "1\x002"], b"ERR ARGS values must not contain a NUL byte"),
    (["s", "mul"], b"ERR KEYS or INPUTS scope must be provided first for AI.SCRIPTEXECUTE command"),
    (["s", "mul", "OUTPUTS", 1, "c"],
     b"ERR KEYS or INPUTS scope must be provided first for AI.SCRIPTEXECUTE command"),
    (["s", "mul", "ARGS", 1, "x", "INPUTS", 1, "a"],
     b"ERR KEYS or INPUTS scope must be provided first for AI.SCRIPTEXECUTE command"),
    (["s", "mul", "INPUTS", 1, "a", "INPUTS", 1, "a"],
     b"ERR Already Encountered INPUTS scope in AI.SCRIPTEXECUTE command"),
    (["s", "mul", "KEYS", 1, "k", "INPUTS", 1, "a", "KEYS", 1, "k"],
     b"ERR Already Encountered KEYS scope in AI.SCRIPTEXECUTE command"),
    (["s", "mul", "INPUTS", 1, "a", "ARGS", 1, "x", "ARGS", 1, "y"],
     b"ERR Already Encountered ARGS scope in AI.SCRIPTEXECUTE command"),
    (["s", "mul", "INPUTS", 1, "a", "OUTPUTS", 1, "c", "OUTPUTS", 1, "d"],
     b"ERR Already Encountered OUTPUTS scope in AI.SCRIPTEXECUTE command"),
    # KEYS has RedisAI's own texts, checked before anything else (the script lookup too)
    (["s", "mul", "KEYS", "x", "k"], b"ERR Invalid or negative value found in number of KEYS"),
    (["s", "mul", "KEYS", -1, "k"], b"ERR Invalid or negative value found in number of KEYS"),
    (["s", "mul", "KEYS", 1], b"ERR Missing arguments after KEYS keyword"),
    (["s", "mul", "KEYS"], b"ERR Missing arguments after KEYS keyword"),
    (["nope", "mul", "KEYS", 2, "k"], KEYS_MISMATCH),
    (["str", "mul", "KEYS", "x", "k"], b"ERR Invalid or negative value found in number of KEYS"),
    (["s", "mul", "INPUTS", -1, "a"], b"ERR Invalid argument for inputs count in AI.SCRIPTEXECUTE"),
    (["s", "mul", "INPUTS", 1, "a", "ARGS", "two", "x"], b"ERR Invalid argument for args count in AI.SCRIPTEXECUTE"),
    (["s", "mul", "INPUTS", 1, "a", "OUTPUTS", "1.5", "c"],
     b"ERR Invalid argument for outputs count in AI.SCRIPTEXECUTE"),
    (["s", "mul", "KEYS", 3, "k1", "k2"], KEYS_MISMATCH),
    (["s", "mul", "KEYS", 2, "k1", "INPUTS", 1, "a"], KEYS_MISMATCH),
    (["s", "mul", "INPUTS", 1, "a", "KEYS", 2, "k1"], KEYS_MISMATCH),
    (["s", "mul", "INPUTS", 3, "a", "b"],
     b"ERR number of inputs to AI.SCRIPTEXECUTE command does not match the number of given arguments"),
    (["s", "mul", "INPUTS", 1, "a", "ARGS", 2, "x"],
     b"ERR number of args to AI.SCRIPTEXECUTE command does not match the number of given arguments"),
    (["s", "mul", "INPUTS", 1, "a", "OUTPUTS", 2, "c", "TIMEOUT", 5],
     b"ERR number of outputs to AI.SCRIPTEXECUTE command does not match the number of given arguments"),
    (["s", "mul", "INPUTS", 1, "a", "OUTPUTS"], b"ERR Invalid arguments provided to AI.SCRIPTEXECUTE"),
    (["s", "mul", "INPUTS", 1, "a", "TIMEOUT"], b"ERR No value provided for TIMEOUT in AI.SCRIPTEXECUTE"),
    (["s", "mul", "INPUTS", 1, "a", "TIMEOUT", 0], b"ERR Invalid value for TIMEOUT"),
    (["s", "mul", "INPUTS", 1, "a", "TIMEOUT", "soon"], b"ERR Invalid value for TIMEOUT"),
    (["s", "mul", "INPUTS", 1, "a", "BOGUS"], b"ERR Invalid AI.SCRIPTEXECUTE command. Unexpected argument: BOGUS"),
    (["s", "mul", "INPUTS", 2, "a", "missing", "OUTPUTS", 1, "c"],
     b"ERR tensor key is empty or in a different shard"),
    (["s", "mul", "INPUTS", 2, "a", "str", "OUTPUTS", 1, "c"], WRONGTYPE),
    # the whole command is parsed before the inputs are looked up
    (["s", "mul", "INPUTS", 2, "a", "missing", "OUTPUTS", 2, "c"],
     b"ERR number of outputs to AI.SCRIPTEXECUTE command does not match the number of given arguments"),
    (["s", "mul", "INPUTS", 2, "missing", "str", "BOGUS"],
     b"ERR Invalid AI.SCRIPTEXECUTE command. Unexpected argument: BOGUS"),
]


@pytest.mark.parametrize("args,text", EXECUTE_ERRORS, ids=range(len(EXECUTE_ERRORS)))
def test_scriptexecute_errors(r, raw, args, text):
    store(r)
    r.set("str", "x")
    set_floats(r, "a", [1, 2])
    assert raw.error("AI.SCRIPTEXECUTE", *args) == text
    assert r.exists("c") == 0
    assert r.execute_command("AI.INFO", "s")[-4:] == [b"calls", 0, b"errors", 0]  # nothing ran


def test_scriptexecute_arity(raw):
    assert raw.error("AI.SCRIPTEXECUTE", "s") == b"ERR wrong number of arguments for 'ai.scriptexecute' command"


def test_scriptexecute_run_errors(r, raw):
    store(r)
    set_floats(r, "a", [1, 2])
    set_floats(r, "b3", [1, 2, 3])
    r.execute_command("AI.TENSORSET", "str_t", "STRING", 1, "VALUES", "x")
    assert raw.error("AI.SCRIPTEXECUTE", "s", "nofn", "INPUTS", 1, "a", "OUTPUTS", 1, "c") == \
        b"Function does not exist: nofn"
    text = raw.error("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "a", "b3", "OUTPUTS", 1, "c")
    assert b"size of tensor a (2) must match the size of tensor b (3)" in text and b"\n" not in text
    assert raw.error("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "a", "OUTPUTS", 3, "c", "d", "e") == \
        b"ERR Function split returned 2 outputs but 3 were requested"
    assert raw.error("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "a", "OUTPUTS", 1, "c") == \
        b"Torch returned 2 outputs but at most 1 were requested"
    assert raw.error("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "str_t", "a", "OUTPUTS", 1, "c") == \
        b"Torch does not support STRING tensors"
    assert r.exists("c", "d", "e") == 0
    info = r.execute_command("AI.INFO", "s")
    assert info[-4:] == [b"calls", 5, b"errors", 5]


def test_output_key_of_other_type_is_refused(r, raw):
    store(r)
    set_floats(r, "a", [1, 2])
    r.set("str", "x")
    assert raw.error("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "a", "OUTPUTS", 2, "up", "str") == WRONGTYPE
    assert r.get("str") == b"x"


def test_execute_inside_multi_is_refused(r, raw):
    store(r)
    set_floats(r, "a", [1, 2])
    assert raw.call("MULTI") == b"OK"
    assert raw.call("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "a", "a", "OUTPUTS", 1, "c") == b"QUEUED"
    [reply] = raw.call("EXEC")
    assert reply.text == b"ERR Cannot run RedisAI command within a transaction or a LUA script"
    assert r.exists("c") == 0


def test_timeout_drops_a_request_that_waited(r, engine):
    store(r)
    set_floats(r, "a", [1, 2])
    busy = RawClient(engine.sock)
    busy.send("AI.SCRIPTEXECUTE", "s", "slow", "INPUTS", 0, "ARGS", 1, "50", "OUTPUTS", 1, "slow_out")
    wait_for(lambda: r.info("clients")["blocked_clients"] == 1, "the slow run queued")
    late = RawClient(engine.sock)
    # queued behind the slow run on the one CPU worker: waits more than 1 ms
    late.send("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "a", "a", "OUTPUTS", 1, "c", "TIMEOUT", 1)
    assert late.read() == b"TIMEDOUT"
    assert busy.read() == b"OK"
    assert r.exists("c") == 0 and r.exists("slow_out") == 1
    busy.close()
    late.close()
    assert r.execute_command("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "a", "a", "OUTPUTS", 1, "c",
                             "TIMEOUT", 60000) == b"OK"


def test_script_deleted_while_its_run_is_queued(r, engine):
    store(r)
    set_floats(r, "a", [1, 2])
    busy = RawClient(engine.sock)
    busy.send("AI.SCRIPTEXECUTE", "s", "slow", "INPUTS", 0, "ARGS", 1, "300", "OUTPUTS", 1, "slow_out")
    queued = RawClient(engine.sock)
    queued.send("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "a", "OUTPUTS", 2, "up", "down")
    wait_for(lambda: r.info("clients")["blocked_clients"] == 2, "both runs queued")
    # the main thread is free meanwhile; the runs keep the script alive
    assert r.execute_command("AI.SCRIPTDEL", "s") == b"OK"
    assert store(r, entry_points=["mul"], source=SOURCE.replace("+ 1", "+ 100")) == b"OK"
    assert busy.read() == b"OK" and queued.read() == b"OK"
    assert floats(r, "up") == [2, 3]
    busy.close()
    queued.close()


def test_concurrent_clients_get_their_own_results(server_factory):
    srv = server_factory(modules=[(ENGINE, ["THREADS_PER_QUEUE", 2])])
    store(srv.client())
    errors = []

    def client(n):
        try:
            r = srv.client()
            for i in range(20):
                set_floats(r, "x%d" % n, [n, i])
                r.execute_command("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "x%d" % n,
                                  "OUTPUTS", 2, "up%d" % n, "down%d" % n)
                if floats(r, "up%d" % n) != [n + 1, i + 1] or floats(r, "down%d" % n) != [n - 1, i - 1]:
                    errors.append((n, i))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert srv.client().execute_command("AI.INFO", "s")[-4:] == [b"calls", 120, b"errors", 0]


def test_ai_info_counts_runs(r, raw):
    store(r, tag="t1")
    set_floats(r, "a", [1, 2])
    info = r.execute_command("AI.INFO", "s")
    assert info == [b"key", b"s", b"type", b"SCRIPT", b"backend", b"TORCH", b"device", b"CPU", b"tag", b"t1",
                    b"duration", 0, b"samples", -1, b"calls", 0, b"errors", 0]
    for _ in range(3):
        r.execute_command("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "a", "a", "OUTPUTS", 1, "c")
    raw.error("AI.SCRIPTEXECUTE", "s", "nofn", "INPUTS", 1, "a", "OUTPUTS", 1, "c")
    info = r.execute_command("AI.INFO", "s")
    assert info[13] == -1 and info[15] == 3 + 1 and info[17] == 1
    assert info[11] > 0  # some microseconds were spent
    assert r.execute_command("AI.INFO", "s", "RESETSTAT") == b"OK"
    assert r.execute_command("AI.INFO", "s")[10:] == [b"duration", 0, b"samples", -1, b"calls", 0, b"errors", 0]
    # storing again starts a new entry
    r.execute_command("AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "a", "a", "OUTPUTS", 1, "c")
    store(r, tag="t2")
    assert r.execute_command("AI.INFO", "s")[9:] == [b"t2", b"duration", 0, b"samples", -1, b"calls", 0,
                                                      b"errors", 0]


def test_scriptscan(r):
    assert r.execute_command("AI._SCRIPTSCAN") == []
    store(r, key="s1", tag="a")
    store(r, key="s2")
    assert sorted(r.execute_command("AI._SCRIPTSCAN")) == [[b"s1", b"a"], [b"s2", b""]]
    r.execute_command("AI.SCRIPTDEL", "s1")
    assert r.execute_command("AI._SCRIPTSCAN") == [[b"s2", b""]]


def test_command_getkeys(raw):
    got = raw.call("COMMAND", "GETKEYS", "AI.SCRIPTEXECUTE", "s", "fn", "KEYS", 2, "k1", "k2", "INPUTS", 1, "a",
                   "ARGS", 2, "x", "y", "OUTPUTS", 1, "o", "TIMEOUT", 5)
    assert got == [b"s", b"k1", b"k2", b"a", b"o"]
    got = raw.call("COMMAND", "GETKEYS", "AI.SCRIPTRUN", "s", "fn", "TIMEOUT", 5, "INPUTS", "a", "$", "b",
                   "OUTPUTS", "c")
    assert got == [b"s", b"a", b"b", b"c"]
    assert raw.call("COMMAND", "GETKEYS", "AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "f",
                    "SOURCE", "x") == [b"s"]


# ---- deprecated AI.SCRIPTSET / AI.SCRIPTRUN ----

def test_scriptset_and_scriptrun(r):
    assert r.execute_command("AI.SCRIPTSET", "old", "CPU", "TAG", "legacy", "SOURCE", SOURCE) == b"OK"
    assert r.execute_command("AI.SCRIPTGET", "old", "META") == [
        b"device", b"CPU", b"tag", b"legacy", b"Entry Points", []]
    set_floats(r, "a", [1, 2])
    set_floats(r, "b", [10, 20])
    assert r.execute_command("AI.SCRIPTRUN", "old", "old_add", "INPUTS", "a", "b", "OUTPUTS", "c") == b"OK"
    assert floats(r, "c") == [11, 22]
    # "$" first: a List[Tensor] function gets every input as the list
    assert r.execute_command("AI.SCRIPTRUN", "old", "old_sum", "TIMEOUT", 1000, "INPUTS", "$", "a", "b", "c",
                             "OUTPUTS", "d") == b"OK"
    assert floats(r, "d") == [22, 44]
    # new-style functions run too, with empty KEYS and ARGS
    assert r.execute_command("AI.SCRIPTRUN", "old", "split", "INPUTS", "a", "OUTPUTS", "e", "f") == b"OK"
    assert floats(r, "f") == [0, 1]
    assert r.execute_command("AI.SCRIPTEXECUTE", "old", "old_add", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "g") == b"OK"
    assert floats(r, "g") == [11, 22]
    assert r.execute_command("AI.INFO", "old")[-4:] == [b"calls", 4, b"errors", 0]


def test_scriptrun_dollar_passes_the_rest_as_a_list(r, raw):
    r.execute_command("AI.SCRIPTSET", "old", "CPU", "SOURCE", SOURCE)
    set_floats(r, "a", [1, 2])
    set_floats(r, "b", [10, 20])
    set_floats(r, "c", [11, 22])
    # old_scaled_sum(a, [b, c]) = a * (b + c)
    assert r.execute_command("AI.SCRIPTRUN", "old", "old_scaled_sum", "INPUTS", "a", "$", "b", "c",
                             "OUTPUTS", "d") == b"OK"
    assert floats(r, "d") == [21, 84]
    assert r.execute_command("AI.SCRIPTRUN", "old", "old_scaled_sum", "INPUTS", "a", "$", "OUTPUTS", "e") == b"OK"
    assert floats(r, "e") == [0, 0]  # an empty list
    reply = r.execute_command("AI.DAGRUN", "LOAD", 3, "a", "b", "c",
                              "|>", "AI.SCRIPTRUN", "old", "old_scaled_sum", "INPUTS", "c", "$", "a", "b",
                              "OUTPUTS", "f",
                              "|>", "AI.TENSORGET", "f", "VALUES")
    assert reply == [b"OK", [b"121", b"484"]]
    for head in (["AI.SCRIPTRUN"], ["AI.DAGRUN", "LOAD", 3, "a", "b", "c", "|>", "AI.SCRIPTRUN"]):
        assert raw.error(*head, "old", "old_scaled_sum", "INPUTS", "a", "$", "b", "$", "c", "OUTPUTS", "g") == \
            b"ERR Already encountered a variable size list of tensors"
    assert r.exists("g") == 0


def test_function_returning_none_runs_for_its_side_effects(r, raw):
    source = ("def note(tensors: List[Tensor], keys: List[str], args: List[str]):\n"
              "    redis.execute('SET', keys[0], args[0])\n")
    r.execute_command("AI.SCRIPTSTORE", "n", "CPU", "ENTRY_POINTS", 1, "note", "SOURCE", source)
    assert r.execute_command("AI.SCRIPTEXECUTE", "n", "note", "KEYS", 1, "k", "ARGS", 1, "v1") == b"OK"
    assert r.get("k") == b"v1"
    reply = r.execute_command("AI.DAGEXECUTE", "ROUTING", "k", "|>", "AI.SCRIPTEXECUTE", "n", "note",
                              "KEYS", 1, "k", "ARGS", 1, "v2")
    assert reply == [b"OK"]
    assert r.get("k") == b"v2"
    # an output asked of it is still an error, and no key is written
    assert raw.error("AI.SCRIPTEXECUTE", "n", "note", "KEYS", 1, "k", "ARGS", 1, "v3", "OUTPUTS", 1, "o") == \
        b"ERR Function note returned 0 outputs but 1 were requested"
    assert r.exists("o") == 0


def test_scriptset_errors(r, raw):
    assert raw.error("AI.SCRIPTSET", "k", "CPU", "SOURCE") == b"ERR wrong number of arguments for 'ai.scriptset' command"
    assert raw.error("AI.SCRIPTSET", "k", "CPU", "TAG", "t") == b"ERR Insufficient arguments, missing script SOURCE"
    assert raw.error("AI.SCRIPTSET", "k", "CPU", "TAG", "t", SOURCE) == b"ERR Insufficient arguments, missing script SOURCE"
    assert raw.error("AI.SCRIPTSET", "k", "GPU", "SOURCE", SOURCE) == \
        b"ERR GPU device requested but this build of the engine has no GPU support"
    r.set("str", "x")
    assert raw.error("AI.SCRIPTSET", "str", "CPU", "SOURCE", SOURCE) == WRONGTYPE
    assert r.exists("k") == 0


def test_scriptrun_errors(r, raw):
    r.execute_command("AI.SCRIPTSET", "old", "CPU", "SOURCE", SOURCE)
    set_floats(r, "a", [1, 2])
    assert raw.error("AI.SCRIPTRUN", "old", "old_add") == b"ERR wrong number of arguments for 'ai.scriptrun' command"
    assert raw.error("AI.SCRIPTRUN", "nope", "old_add", "INPUTS", "a") == b"ERR script key is empty"
    assert raw.error("AI.SCRIPTRUN", "old", "old_add", "OUTPUTS", "c") == b"ERR INPUTS not specified"
    assert raw.error("AI.SCRIPTRUN", "old", "old_add", "INPUTS", "a", "a") == b"ERR OUTPUTS not specified"
    assert raw.error("AI.SCRIPTRUN", "old", "old_add", "INPUTS", "a", "missing", "OUTPUTS", "c") == \
        b"ERR tensor key is empty or in a different shard"
    assert raw.error("AI.SCRIPTRUN", "old", "old_add", "INPUTS", "a", "OUTPUTS", "c", "TIMEOUT") == \
        b"ERR No value provided for TIMEOUT"
    assert raw.error("AI.SCRIPTRUN", "old", "old_add", "INPUTS", "a", "INPUTS", "a", "OUTPUTS", "c") == \
        b"ERR Invalid argument: INPUTS"
    text = raw.error("AI.SCRIPTRUN", "old", "old_add", "INPUTS", "a", "OUTPUTS", "c")
    assert text.startswith(b"old_add() is missing value for argument 'b'"), text
    assert r.exists("c") == 0


def test_runs_and_deletes_give_memory_back(r, raw):
    set_floats(r, "a", [1, 2])

    def round_of_runs():
        store(r)
        for _ in range(100):
            r.execute_command("AI.SCRIPTEXECUTE", "s", "info", "KEYS", 2, "k1", "k2", "INPUTS", 1, "a",
                              "ARGS", 2, "1", "2", "OUTPUTS", 1, "o")
            r.execute_command("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "a", "OUTPUTS", 2, "o1", "o2")
            raw.error("AI.SCRIPTEXECUTE", "s", "nofn", "INPUTS", 1, "a", "OUTPUTS", 1, "o3")
            raw.error("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "a", "OUTPUTS", 3, "o3", "o4", "o5")
            raw.error("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "nokey", "OUTPUTS", 2, "o3", "o4")
        r.execute_command("AI.SCRIPTDEL", "s")
        r.delete("o", "o1", "o2")
        return int(r.info("memory")["used_memory"])

    round_of_runs()  # loads the backend; Redis sizes its own pools and buffers
    first = round_of_runs()
    for _ in range(3):
        last = round_of_runs()
    assert last - first < 4096, (first, last)  # 1500 runs: a leak of a few bytes each would show
