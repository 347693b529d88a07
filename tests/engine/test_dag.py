"""DAGs through the commands: AI.DAGEXECUTE, AI.DAGEXECUTE_RO and the
deprecated AI.DAGRUN / AI.DAGRUN_RO (spec §4.13): every op type, LOAD /
PERSIST / ROUTING / TIMEOUT, the per-op replies, the exact error texts, key
positions, persistence and replication of PERSISTed tensors, concurrency."""
import glob
import os
import threading

import numpy as np
import pytest

from backends import models
from support.server import BUILD, ENGINE
from tensor_helpers import WRONGTYPE, RawClient, info_field, wait_for

TORCH_LIB = os.path.join(BUILD, "backends", "redisai_torch", "redisai_torch.so")
needs_torch = pytest.mark.skipif(not os.path.exists(TORCH_LIB), reason="TORCH backend not built")

SCRIPT = '''
def mul(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] * tensors[1]

def scale(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] * float(args[0]) + float(len(keys))

def pair(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] + 1, tensors[0] - 1

def old_add(a: Tensor, b: Tensor):
    return a + b
'''


def linear(x):
    return np.asarray(x, dtype=np.float32) @ models.LINEAR_W + models.LINEAR_B


def floats(values):
    return [float(v) for v in values]


@pytest.fixture
def raw(engine):
    c = RawClient(engine.sock)
    yield c
    c.close()


@pytest.fixture
def lin(r):
    """Model `m` (ONNX linear: x [N,3] -> y [N,2]) and tensor x = [[1,1,1]]."""
    assert r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear()) == b"OK"
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 1, 1)
    return r


@pytest.fixture
def scr(lin):
    lin.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 3, "mul", "scale", "pair",
                        "SOURCE", SCRIPT)
    return lin


# ---- ops and replies ----

def test_tensor_ops_are_local_and_reply_per_op(r):
    reply = r.execute_command(
        "AI.DAGEXECUTE", "ROUTING", "a", "|>", "AI.TENSORSET", "a", "FLOAT", 2, "VALUES", 1, 2,
        "|>", "AI.TENSORGET", "a", "META", "|>", "AI.TENSORGET", "a", "VALUES",
        "|>", "AI.TENSORGET", "a", "BLOB", "|>", "AI.TENSORGET", "a")
    blob = np.array([1, 2], dtype=np.float32).tobytes()
    assert reply == [b"OK", [b"dtype", b"FLOAT", b"shape", [2]], [b"1", b"2"], blob,
                     [b"dtype", b"FLOAT", b"shape", [2], b"blob", blob]]
    assert r.exists("a") == 0  # DAG tensors are not keys


def test_load_model_persist(lin):
    r = lin
    reply = r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "y",
                              "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y",
                              "|>", "AI.TENSORGET", "y", "VALUES")
    assert reply == [b"OK", [b"9.5", b"11"]]
    assert r.execute_command("AI.TENSORGET", "y", "META", "VALUES") == [
        b"dtype", b"FLOAT", b"shape", [1, 2], b"values", [b"9.5", b"11"]]


def test_only_persisted_names_are_written(lin):
    r = lin
    r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "z",
                      "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y",
                      "|>", "AI.TENSORSET", "z", "INT8", 1, "VALUES", 7)
    assert r.exists("y") == 0
    assert r.execute_command("AI.TENSORGET", "z", "VALUES") == [7]


def test_names_rebind_in_op_order(lin):
    r = lin
    reply = r.execute_command(
        "AI.DAGEXECUTE", "PERSIST", 1, "a",
        "|>", "AI.TENSORSET", "a", "FLOAT", 1, 3, "VALUES", 1, 0, 0, "|>", "AI.TENSORGET", "a", "VALUES",
        "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "a", "OUTPUTS", 1, "b",
        "|>", "AI.TENSORSET", "a", "FLOAT", 1, 3, "VALUES", 0, 0, 1, "|>", "AI.TENSORGET", "a", "VALUES",
        "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "a", "OUTPUTS", 1, "a", "|>", "AI.TENSORGET", "b", "VALUES")
    assert reply == [b"OK", [b"1", b"0", b"0"], b"OK", b"OK", [b"0", b"0", b"1"], b"OK", [b"1.5", b"1"]]
    assert r.execute_command("AI.TENSORGET", "a", "VALUES") == [b"5.5", b"5"]  # last binding of `a`


def test_loaded_tensor_is_a_snapshot(lin):
    r = lin
    r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "x",
                      "|>", "AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 2, 2, 2)
    assert r.execute_command("AI.TENSORGET", "x", "VALUES") == [b"2", b"2", b"2"]


def test_two_outputs_and_int64(r):
    r.execute_command("AI.MODELSTORE", "sp", "ONNX", "CPU", "BLOB", models.two_in_two_out())
    r.execute_command("AI.TENSORSET", "a", "INT64", 3, "VALUES", 1, 2, 3)
    reply = r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "a", "PERSIST", 2, "s", "p",
                              "|>", "AI.TENSORSET", "b", "INT64", 3, "VALUES", 4, 5, 6,
                              "|>", "AI.MODELEXECUTE", "sp", "INPUTS", 2, "a", "b", "OUTPUTS", 2, "s", "p")
    assert reply == [b"OK", b"OK"]
    assert r.execute_command("AI.TENSORGET", "s", "VALUES") == [5, 7, 9]
    assert r.execute_command("AI.TENSORGET", "p", "VALUES") == [4, 10, 18]


def test_ops_on_two_devices(lin):
    r = lin
    r.execute_command("AI.MODELSTORE", "m1", "ONNX", "CPU:1", "BLOB", models.linear())
    r.execute_command("AI.MODELSTORE", "c1", "ONNX", "CPU:1", "BLOB", models.conv_net())
    img = np.random.default_rng(3).standard_normal((1, 1, 8, 8)).astype(np.float32)
    reply = r.execute_command(
        "AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "probs",
        "|>", "AI.MODELEXECUTE", "m1", "INPUTS", 1, "x", "OUTPUTS", 1, "y1",
        "|>", "AI.TENSORSET", "t", "FLOAT", 1, 3, "VALUES", 1, 2, 3,
        "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "t", "OUTPUTS", 1, "y2",
        "|>", "AI.TENSORSET", "img", "FLOAT", 1, 1, 8, 8, "BLOB", img.tobytes(),
        "|>", "AI.MODELEXECUTE", "c1", "INPUTS", 1, "img", "OUTPUTS", 1, "probs",
        "|>", "AI.TENSORGET", "y1", "VALUES", "|>", "AI.TENSORGET", "y2", "VALUES")
    assert reply[:5] == [b"OK"] * 5
    assert floats(reply[5]) == floats(linear([[1, 1, 1]])[0])
    assert floats(reply[6]) == floats(linear([[1, 2, 3]])[0])
    probs = np.frombuffer(r.execute_command("AI.TENSORGET", "probs", "BLOB"), dtype=np.float32)
    assert probs.shape == (3,) and abs(probs.sum() - 1) < 1e-5


@needs_torch
def test_script_ops_with_keys_and_args(scr):
    r = scr
    reply = r.execute_command(
        "AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 2, "p", "q",
        "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y",
        "|>", "AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "y", "y", "OUTPUTS", 1, "sq",
        "|>", "AI.SCRIPTEXECUTE", "s", "scale", "KEYS", 2, "k1", "k2", "INPUTS", 1, "sq",
        "ARGS", 1, "0.5", "OUTPUTS", 1, "w",
        "|>", "AI.SCRIPTEXECUTE", "s", "pair", "INPUTS", 1, "w", "OUTPUTS", 2, "p", "q",
        "|>", "AI.TENSORGET", "w", "VALUES")
    w = linear([[1, 1, 1]])[0] ** 2 * 0.5 + 2
    assert reply[:4] == [b"OK"] * 4
    assert floats(reply[4]) == floats(w)
    assert floats(r.execute_command("AI.TENSORGET", "p", "VALUES")) == floats(w + 1)
    assert floats(r.execute_command("AI.TENSORGET", "q", "VALUES")) == floats(w - 1)


@needs_torch
def test_deprecated_dagrun_with_modelrun_and_scriptrun(scr):
    r = scr
    r.execute_command("AI.SCRIPTSET", "old", "CPU", "SOURCE", SCRIPT)
    reply = r.execute_command(
        "AI.DAGRUN", "LOAD", 1, "x", "PERSIST", 1, "z",
        "|>", "AI.MODELRUN", "m", "INPUTS", "x", "OUTPUTS", "y",
        "|>", "AI.SCRIPTRUN", "old", "old_add", "INPUTS", "y", "y", "OUTPUTS", "z",
        "|>", "AI.TENSORGET", "z", "VALUES")
    assert reply == [b"OK", b"OK", [b"19", b"22"]]
    assert r.execute_command("AI.TENSORGET", "z", "VALUES") == [b"19", b"22"]


def test_deprecated_dagrun_needs_no_routing(lin):
    r = lin
    assert r.execute_command("AI.DAGRUN", "|>", "AI.TENSORSET", "a", "FLOAT", 1, 3, "VALUES", 0, 1, 0,
                             "|>", "AI.MODELRUN", "m", "INPUTS", "a", "OUTPUTS", "b",
                             "|>", "AI.TENSORGET", "b", "VALUES") == [b"OK", b"OK", [b"3.5", b"3"]]
    assert r.execute_command("AI.DAGRUN_RO", "LOAD", 1, "x", "|>", "AI.TENSORGET", "x", "VALUES") == [
        [b"1", b"1", b"1"]]


def test_read_only_dag_runs_models(lin):
    r = lin
    reply = r.execute_command("AI.DAGEXECUTE_RO", "LOAD", 1, "x",
                              "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y",
                              "|>", "AI.TENSORGET", "y", "VALUES")
    assert reply == [b"OK", [b"9.5", b"11"]]
    assert r.exists("y") == 0


# ---- failures while running ----

def test_failed_op_stops_the_dag_and_persists_nothing(lin, raw):
    r = lin
    r.execute_command("AI.TENSORSET", "y", "FLOAT", 1, "VALUES", 42)
    calls = r.execute_command("AI.INFO", "m")
    reply = raw.call("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "y",
                     "|>", "AI.TENSORSET", "bad", "FLOAT", 3, "VALUES", 1, 2, 3,
                     "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "bad", "OUTPUTS", 1, "y",
                     "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y",
                     "|>", "AI.TENSORGET", "y")
    assert reply[0] == b"OK"
    assert reply[1].text.startswith(b"Invalid rank for input: x Got: 1 Expected: 2")
    assert reply[2:] == [b"NA", b"NA"]
    assert r.execute_command("AI.TENSORGET", "y", "VALUES") == [b"42"]  # untouched
    info = r.execute_command("AI.INFO", "m")
    assert info[info.index(b"calls") + 1] == calls[calls.index(b"calls") + 1] + 1
    assert info[info.index(b"errors") + 1] == calls[calls.index(b"errors") + 1] + 1


@needs_torch
def test_script_error_reply(scr, raw):
    reply = raw.call("AI.DAGEXECUTE", "LOAD", 1, "x",
                     "|>", "AI.SCRIPTEXECUTE", "s", "nofn", "INPUTS", 1, "x", "OUTPUTS", 1, "o",
                     "|>", "AI.TENSORGET", "o")
    assert reply[0].text == b"Function does not exist: nofn"
    assert reply[1] == b"NA"


def test_model_op_counts_in_ai_info(lin):
    r = lin
    r.execute_command("AI.INFO", "m", "RESETSTAT")
    r.execute_command("AI.TENSORSET", "x2", "FLOAT", 2, 3, "VALUES", 1, 1, 1, 2, 2, 2)
    r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x2",
                      "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x2", "OUTPUTS", 1, "y")
    info = r.execute_command("AI.INFO", "m")
    assert info[info.index(b"calls") + 1] == 1
    assert info[info.index(b"samples") + 1] == 2
    assert info[info.index(b"errors") + 1] == 0


def test_timeout_while_queued(server_factory):
    srv = server_factory(modules=[(ENGINE, ["MODEL_EXECUTION_TIMEOUT", 60000])])
    r = srv.client()
    # about a second of work, so the test sees it queued before it ends
    r.execute_command("AI.MODELSTORE", "slow", "ONNX", "CPU", "BLOB", models.slow_matmuls(n=200, size=512))
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.TENSORSET", "one", "FLOAT", 1, "VALUES", 1)
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 1, 1)
    busy = RawClient(srv.sock)
    busy.send("AI.MODELEXECUTE", "slow", "INPUTS", 1, "one", "OUTPUTS", 1, "big")
    wait_for(lambda: info_field(r, "clients", "blocked_clients") in (1, "1"), "the slow run to be queued")
    # queued behind the slow run on the one CPU worker: waits more than 1 ms
    reply = r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "y", "TIMEOUT", 1,
                              "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    assert reply == b"TIMEDOUT"
    assert busy.read() == b"OK"
    busy.close()
    assert r.exists("y") == 0
    # with a generous TIMEOUT the same DAG runs
    assert r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "y", "TIMEOUT", 60000,
                             "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y") == [b"OK"]
    assert r.exists("y") == 1


# ---- parse errors: exact texts, nothing runs, nothing is written ----

PARSE_ERRORS = [
    (["AI.DAGEXECUTE", "LOAD", 1, "x"], b"ERR missing arguments for 'AI.DAGEXECUTE' command"),
    (["AI.DAGEXECUTE_RO", "LOAD", 1, "x"], b"ERR missing arguments for 'AI.DAGEXECUTE_RO' command"),
    (["AI.DAGEXECUTE", "|>", "AI.TENSORSET", "a", "FLOAT", 1],
     b"ERR AI.DAGEXECUTE and AI.DAGEXECUTE_RO commands must contain at least one out of ROUTING, LOAD, "
     b"PERSIST keywords"),
    (["AI.DAGEXECUTE", "TIMEOUT", 5, "|>", "AI.TENSORSET", "a", "FLOAT", 1],
     b"ERR AI.DAGEXECUTE and AI.DAGEXECUTE_RO commands must contain at least one out of ROUTING, LOAD, "
     b"PERSIST keywords"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y",
      "TIMEOUT", 5], b"ERR TIMEOUT not allowed within a DAG command"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "SET", "a", "b"], b"Unsupported command within DAG"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.TENSORGET", "x", "|>"], b"Unsupported command within DAG"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m", "INPUTS", "x", "OUTPUTS", "y"],
     b"Deprecated AI.MODELRUN cannot be used in AI.DAGEXECUTE command"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.SCRIPTRUN", "s", "f", "INPUTS", "x", "OUTPUTS", "y"],
     b"Deprecated AI.SCRIPTRUN cannot be used in AI.DAGEXECUTE command"),
    (["AI.DAGEXECUTE_RO", "LOAD", 1, "x", "|>", "AI.SCRIPTEXECUTE", "s", "f", "INPUTS", 1, "x"],
     b"ERR AI.SCRIPTEXECUTE command cannot be specified in a read-only DAG"),
    (["AI.DAGRUN_RO", "LOAD", 1, "x", "|>", "AI.SCRIPTRUN", "s", "f", "INPUTS", "x", "OUTPUTS", "y"],
     b"ERR AI.SCRIPTRUN command cannot be specified in a read-only DAG"),
    (["AI.DAGEXECUTE_RO", "PERSIST", 1, "y", "|>", "AI.TENSORSET", "y", "FLOAT", 1],
     b"ERR PERSIST cannot be specified in a read-only DAG"),
    (["AI.DAGRUN_RO", "PERSIST", 1, "y", "|>", "AI.TENSORSET", "y", "FLOAT", 1],
     b"ERR PERSIST cannot be specified in a read-only DAG"),
    (["AI.DAGEXECUTE", "ROUTING", "r", "TIMEOUT", 5, "LOAD", 1],
     b"ERR missing arguments after LOAD keyword in DAG command"),
    (["AI.DAGEXECUTE", "LOAD", -1, "x", "|>", "AI.TENSORGET", "x"],
     b"ERR invalid or negative value found in number of keys to LOAD"),
    (["AI.DAGEXECUTE", "LOAD", "two", "x", "|>", "AI.TENSORGET", "x"],
     b"ERR invalid or negative value found in number of keys to LOAD"),
    (["AI.DAGEXECUTE", "LOAD", 2, "x", "|>", "AI.TENSORGET", "x"],
     b"ERR number of keys to LOAD into DAG does not match the number of given arguments"),
    (["AI.DAGEXECUTE", "ROUTING", "r", "TIMEOUT", 5, "PERSIST", 1],
     b"ERR missing arguments after PERSIST keyword in DAG command"),
    (["AI.DAGEXECUTE", "PERSIST", 0, "y", "|>", "AI.TENSORSET", "y", "FLOAT", 1],
     b"ERR invalid or negative value found in number of keys to PERSIST"),
    (["AI.DAGEXECUTE", "PERSIST", 2, "y", "|>", "AI.TENSORSET", "y", "FLOAT", 1],
     b"ERR number of keys to PERSIST after DAG execution does not match the number of given arguments"),
    (["AI.DAGEXECUTE", "PERSIST", 2, "y", "y", "|>", "AI.TENSORSET", "y", "FLOAT", 1],
     b"ERR PERSIST keys must be unique"),
    (["AI.DAGEXECUTE", "PERSIST", 1, "q", "|>", "AI.TENSORSET", "y", "FLOAT", 1],
     b"ERR PERSIST key cannot be found in DAG"),
    (["AI.DAGEXECUTE", "ROUTING", "r", "|>", "AI.TENSORGET", "x"], b"ERR INPUT key cannot be found in DAG"),
    (["AI.DAGEXECUTE", "ROUTING", "r", "|>", "AI.TENSORGET", "a", "|>", "AI.TENSORSET", "a", "FLOAT", 1],
     b"ERR INPUT key cannot be found in DAG"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "ROUTING", "|>", "AI.TENSORGET", "x"], b"ERR Missing ROUTING value"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "FOO", "|>", "AI.TENSORGET", "x"],
     b"ERR Invalid DAG command. Unexpected argument:  FOO"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "x", "|>", "AI.TENSORGET", "x"],
     b"ERR Invalid DAG command. Unexpected argument:  x"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "ROUTING", "r", "TIMEOUT", 5], b"ERR DAG is empty"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "TIMEOUT", "|>", "AI.TENSORGET", "x"],
     b"ERR No value provided for TIMEOUT"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "TIMEOUT", 0, "|>", "AI.TENSORGET", "x"], b"ERR Invalid value for TIMEOUT"),
    (["AI.DAGEXECUTE", "LOAD", 1, "nokey", "|>", "AI.TENSORGET", "x"],
     b"ERR tensor key is empty or in a different shard"),
    (["AI.DAGEXECUTE", "LOAD", 1, "str", "|>", "AI.TENSORGET", "x"], WRONGTYPE),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "str", "|>", "AI.TENSORSET", "str", "FLOAT", 1], WRONGTYPE),
    # TENSORSET / TENSORGET ops
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.TENSORSET", "a", "FLOAT"],
     b"ERR wrong number of arguments for 'AI.TENSORSET' command"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.TENSORSET", "a", "FLT", 1], b"ERR invalid data type"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.TENSORSET", "a", "FLOAT", 2, "VALUES", 1],
     b"ERR wrong number of values was given in 'AI.TENSORSET' command"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.TENSORGET"],
     b"ERR wrong number of arguments for 'AI.TENSORGET' command"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.TENSORGET", "x", "FOO"], b"ERR unsupported data format"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.TENSORGET", "x", "BLOB", "VALUES"],
     b"ERR both BLOB and VALUES specified"),
    # MODELEXECUTE ops
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1],
     b"ERR wrong number of arguments for 'AI.MODELEXECUTE' command"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "nomodel", "INPUTS", 1, "x", "OUTPUTS", 1, "y"],
     b"ERR model key is empty"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "x", "INPUTS", 1, "x", "OUTPUTS", 1, "y"],
     WRONGTYPE),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPTS", 1, "x", "OUTPUTS", 1, "y"],
     b"ERR INPUTS not specified"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", "one", "x", "OUTPUTS", 1, "y"],
     b"ERR Invalid argument for input_count"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 0, "x", "OUTPUTS", 1, "y"],
     b"ERR Input count must be a positive integer"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 2, "x", "x", "OUTPUTS", 1, "y"],
     b"Number of keys given as INPUTS here does not match model definition"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "OUTPUTS", 1, "y", "z"],
     b"ERR number of input keys to AI.MODELEXECUTE command does not match the number of given arguments"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUT", 1, "y"],
     b"ERR OUTPUTS not specified"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 0, "y"],
     b"ERR Output count must be a positive integer"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 2, "y", "z"],
     b"Number of keys given as OUTPUTS here does not match model definition"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "sp", "INPUTS", 2, "x", "x", "OUTPUTS", 2, "s"],
     b"ERR number of output keys to AI.MODELEXECUTE command does not match the number of given arguments"),
    (["AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "BAR"],
     b"Invalid argument: BAR"),
    # deprecated MODELRUN op in AI.DAGRUN
    (["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m", "TIMEOUT", 5, "INPUTS", "x", "OUTPUTS", "y"],
     b"ERR TIMEOUT not allowed within a DAG command"),
    (["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m", "INPUTS", "x", "y"], b"ERR OUTPUTS not specified"),
    (["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m", "INPUTS", "OUTPUTS", "y"],
     b"Number of keys given as INPUTS here does not match model definition"),
    (["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m", "INPUTS", "x", "OUTPUTS"],
     b"ERR wrong number of arguments for 'AI.MODELRUN' command"),
    (["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m", "INPUTS", "x", "OUTPUTS", "y", "z"],
     b"ERR Number of keys given as OUTPUTS here does not match model definition"),
    (["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m", "x"], b"ERR INPUTS not specified"),
    (["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m"],
     b"ERR wrong number of arguments for 'AI.MODELRUN' command"),
    (["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.MODELRUN", "m", "INPUTS", "x", "x", "OUTPUTS", "y"],
     b"Number of keys given as INPUTS here does not match model definition"),
]


@pytest.mark.parametrize("args,text", PARSE_ERRORS, ids=[e[1][:40].decode() + "-" + str(i)
                                                        for i, e in enumerate(PARSE_ERRORS)])
def test_parse_errors(lin, raw, args, text):
    r = lin
    r.set("str", "v")
    r.execute_command("AI.MODELSTORE", "sp", "ONNX", "CPU", "BLOB", models.two_in_two_out())
    r.execute_command("AI.TENSORSET", "y", "FLOAT", 1, "VALUES", 42)
    r.execute_command("AI.INFO", "m", "RESETSTAT")
    assert raw.error(*args) == text
    assert r.execute_command("AI.TENSORGET", "y", "VALUES") == [b"42"]
    info = r.execute_command("AI.INFO", "m")
    assert info[info.index(b"calls") + 1] == 0
    assert r.get("str") == b"v"


SCRIPT_ERRORS = [
    (["|>", "AI.SCRIPTEXECUTE", "noscript", "mul", "INPUTS", 1, "x"], b"ERR script key is empty"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "", "INPUTS", 1, "x"], b"ERR function name not specified"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "mul\0x", "INPUTS", 1, "x"], b"ERR function name contains a NUL byte"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "mul", "OUTPUTS", 1, "o"],
     b"ERR KEYS or INPUTS scope must be provided first for AI.SCRIPTEXECUTE command"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 1, "x", "INPUTS", 1, "x"],
     b"ERR Already Encountered INPUTS scope in AI.SCRIPTEXECUTE command"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", "n", "x"],
     b"ERR Invalid argument for inputs count in AI.SCRIPTEXECUTE"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 2, "x", "OUTPUTS", 1, "o"],
     b"ERR number of inputs to AI.SCRIPTEXECUTE command does not match the number of given arguments"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 1, "x", "FOO"],
     b"ERR Invalid AI.SCRIPTEXECUTE command. Unexpected argument: FOO"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 1, "x", "TIMEOUT", 5],
     b"ERR TIMEOUT not allowed within a DAG command"),
    (["|>", "AI.SCRIPTEXECUTE", "s", "mul", "INPUTS", 1, "nope"], b"ERR INPUT key cannot be found in DAG"),
]


@needs_torch
@pytest.mark.parametrize("ops,text", SCRIPT_ERRORS)
def test_script_op_parse_errors(scr, raw, ops, text):
    assert raw.error("AI.DAGEXECUTE", "LOAD", 1, "x", *ops) == text


@needs_torch
def test_deprecated_scriptrun_op_errors(scr, raw):
    head = ["AI.DAGRUN", "LOAD", 1, "x", "|>", "AI.SCRIPTRUN", "s", "mul"]
    assert raw.error(*head, "TIMEOUT", 5, "INPUTS", "x", "OUTPUTS", "o") == \
        b"ERR TIMEOUT not allowed within a DAG command"
    assert raw.error(*head, "OUTPUTS", "o") == b"ERR INPUTS not specified"
    assert raw.error(*head, "INPUTS", "x") == b"ERR OUTPUTS not specified"


def test_wrong_arity_of_deprecated_commands(raw):
    assert raw.error("AI.DAGRUN", "|>", "AI.TENSORGET").startswith(b"ERR wrong number of arguments for")


# ---- clients, transactions, keys ----

def test_refused_inside_multi_and_lua(lin, raw):
    dag = ["AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "y",
           "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y"]
    assert raw.call("MULTI") == b"OK"
    assert raw.call(*dag) == b"QUEUED"
    reply = raw.call("EXEC")
    assert reply[0].text == b"ERR Cannot run RedisAI command within a transaction or a LUA script"
    lua = raw.call("EVAL", "return redis.call(" + ",".join("'%s'" % a for a in dag) + ")", 0)
    assert b"ERR Cannot run RedisAI command within a transaction or a LUA script" in lua.text
    assert lin.exists("y") == 0


def test_command_getkeys(raw):
    keys = raw.ok(
        "COMMAND", "GETKEYS", "AI.DAGEXECUTE", "LOAD", 2, "a", "b", "PERSIST", 1, "c", "ROUTING", "r",
        "TIMEOUT", 5, "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "a", "OUTPUTS", 1, "c",
        "|>", "AI.TENSORSET", "t", "FLOAT", 1, "|>", "AI.SCRIPTEXECUTE", "s", "fn", "KEYS", 1, "k", "INPUTS", 1, "a")
    assert keys == [b"a", b"b", b"c", b"r", b"m", b"s", b"k"]
    assert raw.ok("COMMAND", "GETKEYS", "AI.DAGRUN_RO", "LOAD", 1, "a",
                  "|>", "AI.MODELRUN", "m", "INPUTS", "a", "OUTPUTS", "b") == [b"a", b"m"]


def test_command_flags(raw):
    info = {c[0]: c for c in raw.ok("COMMAND", "INFO", "ai.dagexecute", "ai.dagexecute_ro",
                                    "ai.dagrun", "ai.dagrun_ro")}
    assert set(info[b"ai.dagexecute"][2]) >= {b"write", b"denyoom"}
    assert b"readonly" in info[b"ai.dagexecute_ro"][2]
    assert b"readonly" in info[b"ai.dagrun_ro"][2]
    assert info[b"ai.dagrun"][3:6] == [3, 3, 1]


def test_persist_sends_keyspace_notification(lin):
    r = lin
    r.config_set("notify-keyspace-events", "KEA")
    p = r.pubsub()
    p.psubscribe("__keyspace@0__:y")
    wait_for(lambda: p.get_message(timeout=0.1) is not None, "psubscribe confirmation")
    r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "y",
                      "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    got = []
    wait_for(lambda: got.append(p.get_message(timeout=0.1)) or any(got), "notification")
    assert [m["data"] for m in got if m] == [b"ai.tensorset"]
    p.close()


def test_concurrent_dags_from_many_clients(server_factory):
    srv = server_factory(modules=[(ENGINE, ["THREADS_PER_QUEUE", 2, "INTRA_OP_PARALLELISM", 1])])
    r = srv.client()
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear())
    failures = []

    def client(c):
        rc = srv.client()
        for i in range(25):
            x = np.array([[c, i, c * i], [i, 1, -c]], dtype=np.float32)
            rc.execute_command("AI.TENSORSET", f"x{c}", "FLOAT", 2, 3, "BLOB", x.tobytes())
            reply = rc.execute_command(
                "AI.DAGEXECUTE", "LOAD", 1, f"x{c}", "PERSIST", 1, f"y{c}",
                "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, f"x{c}", "OUTPUTS", 1, f"y{c}",
                "|>", "AI.TENSORSET", "k", "FLOAT", 1, "VALUES", c,
                "|>", "AI.TENSORGET", f"y{c}", "BLOB", "|>", "AI.TENSORGET", "k", "VALUES")
            y = np.frombuffer(reply[2], dtype=np.float32).reshape(2, 2)
            stored = np.frombuffer(rc.execute_command("AI.TENSORGET", f"y{c}", "BLOB"), dtype=np.float32)
            if reply[:2] != [b"OK", b"OK"] or not np.array_equal(y, linear(x)) or \
                    reply[3] != [str(c).encode()] or not np.array_equal(stored, linear(x).ravel()):
                failures.append((c, i, reply))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    info = r.execute_command("AI.INFO", "m")
    assert info[info.index(b"calls") + 1] == 8 * 25


# ---- persistence and replication ----

def test_persisted_outputs_reach_replica(server_factory):
    master = server_factory(tcp=True)
    m = master.client()
    m.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear())
    m.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 1, 1)
    replica = server_factory(config=[("replicaof", "127.0.0.1", master.port)])
    rr = replica.client()
    wait_for(lambda: info_field(rr, "replication", "master_link_status") == "up", "replica link")
    assert m.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 2, "y", "t",
                             "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y",
                             "|>", "AI.TENSORSET", "t", "STRING", 2, "VALUES", "p", "q",
                             "|>", "AI.TENSORSET", "local", "INT8", 1) == [b"OK", b"OK", b"OK"]
    m.set("marker", "done")
    wait_for(lambda: rr.get("marker") == b"done", "replication")
    assert rr.execute_command("AI.TENSORGET", "y", "META", "VALUES") == [
        b"dtype", b"FLOAT", b"shape", [1, 2], b"values", [b"9.5", b"11"]]
    assert rr.execute_command("AI.TENSORGET", "t", "VALUES") == [b"p", b"q"]
    assert rr.exists("local") == 0
    # a replica runs read-only DAGs and refuses writing ones
    assert rr.execute_command("AI.DAGEXECUTE_RO", "LOAD", 1, "x", "|>", "AI.MODELEXECUTE", "m",
                              "INPUTS", 1, "x", "OUTPUTS", 1, "z", "|>", "AI.TENSORGET", "z", "VALUES") == [
        b"OK", [b"9.5", b"11"]]
    with pytest.raises(Exception, match="read only replica"):
        rr.execute_command("AI.DAGEXECUTE", "LOAD", 1, "y", "PERSIST", 1, "w",
                           "|>", "AI.TENSORSET", "w", "FLOAT", 1)


def test_persisted_outputs_survive_restart_via_aof(server_factory):
    srv = server_factory(config=[("appendonly", "yes")])
    r = srv.client()
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 1, 1)
    r.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "y",
                      "|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    r.execute_command("AI.DAGEXECUTE_RO", "LOAD", 1, "x", "|>", "AI.TENSORGET", "x")
    incr = b"".join(open(f, "rb").read() for f in glob.glob(os.path.join(srv.dir, "appendonlydir", "*.incr.*")))
    assert b"AI.DAGEXECUTE" not in incr  # the outputs are logged as AI.TENSORSET
    assert incr.count(b"AI.TENSORSET") == 2
    srv.restart()
    r = srv.client()
    assert r.execute_command("AI.TENSORGET", "y", "VALUES") == [b"9.5", b"11"]
    r.save()
    srv.restart(config=[("appendonly", "no")])
    assert srv.client().execute_command("AI.TENSORGET", "y", "VALUES") == [b"9.5", b"11"]
