"""DAG ops on different devices run in parallel (spec §4.13, §6.3), and every
op still sees the bindings a run in op order would give it.

Overlap is shown without timing: a "gate" holds the queue of CPU:0 (a
TorchScript script on its worker loops until the key `gate:state` says
"open"; the runs queued behind it on CPU:0 wait).  While the gate is closed, an op on CPU:1 that depends on nothing
blocked must run (its model's AI.INFO calls go up) even though an earlier op
of the same DAG waits on CPU:0; ops that depend on the waiting op must not.
Then the gate opens and the replies and stored tensors are checked."""
import os
import threading
import time

import numpy as np
import pytest
from onnx import TensorProto, helper

from backends import models
from support.server import BUILD, ENGINE
from tensor_helpers import RawClient, RespError, info_field, wait_for

TORCH_LIB = os.path.join(BUILD, "backends", "redisai_torch", "redisai_torch.so")
needs_torch = pytest.mark.skipif(not os.path.exists(TORCH_LIB), reason="TORCH backend not built")
DEVICES = ["CPU", "CPU:0", "CPU:1"]


def sub_model():
    """d = a - b on FLOAT [N]: not symmetric, so the inputs' order shows."""
    node = helper.make_node("Sub", ["a", "b"], ["d"])
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N"]) for n in ("a", "b", "d")]
    model = helper.make_model(helper.make_graph([node], "sub", info[:2], info[2:]),
                              opset_imports=[helper.make_opsetid("", models.OPSET)])
    model.ir_version = models.IR_VERSION
    return model.SerializeToString()


def f(x):
    """What models.mul_add computes."""
    return 2 * np.asarray(x, dtype=np.float32) + 1


def values(reply):
    return [float(v) for v in reply]


def info(r, key):
    reply = r.execute_command("AI.INFO", key)
    return {k.decode(): v for k, v in zip(reply[::2], reply[1::2])}


def blocked(r):
    return int(info_field(r, "clients", "blocked_clients"))


GATE_SOURCE = """
def hold(tensors: List[Tensor], keys: List[str], args: List[str]):
    while str(redis.execute("GET", keys[0])) != "open":
        pass
    return tensors[0]
"""


class Gate:
    """Closes the queue of `device` until open() is called: the worker
    runs a script that waits for the key gate:state to say "open".  (A
    batch waiting for MINBATCHSIZE no longer holds up its queue.)"""

    def __init__(self, srv, r, device="CPU:0"):
        if not os.path.exists(TORCH_LIB):
            pytest.skip("TORCH backend not built")
        self.srv, self.r = srv, r
        r.set("gate:state", "closed")
        r.execute_command("AI.SCRIPTSTORE", "gate", device, "ENTRY_POINTS", 1, "hold", "SOURCE", GATE_SOURCE)
        r.execute_command("AI.TENSORSET", "gx", "FLOAT", 1, "VALUES", 1)
        before = blocked(r)
        self.first = RawClient(srv.sock)
        self.first.send("AI.SCRIPTEXECUTE", "gate", "hold", "KEYS", 1, "gate:state", "INPUTS", 1, "gx",
                        "OUTPUTS", 1, "gy")
        wait_for(lambda: blocked(r) == before + 1, "the gate to close")

    def open(self):
        self.r.set("gate:state", "open")
        assert self.first.read() == b"OK"
        self.first.close()


@pytest.fixture
def fm(engine, r):
    """mul_add as f0 on CPU:0 and f1 on CPU:1; x = [1, 2]; a closed gate on CPU:0."""
    for name, device in (("f0", "CPU:0"), ("f1", "CPU:1")):
        r.execute_command("AI.MODELSTORE", name, "ONNX", device, "BLOB", models.mul_add())
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 2, "VALUES", 1, 2)
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 2, "VALUES", 100, 100)
    return r, Gate(engine, r)


def send_dag(engine, *args):
    c = RawClient(engine.sock)
    c.send("AI.DAGEXECUTE", *args)
    return c


def test_independent_op_on_another_device_runs_while_the_first_waits(engine, fm):
    r, gate = fm
    dag = send_dag(engine, "LOAD", 1, "x",
                   "|>", "AI.MODELEXECUTE", "f0", "INPUTS", 1, "x", "OUTPUTS", 1, "y0",
                   "|>", "AI.MODELEXECUTE", "f1", "INPUTS", 1, "x", "OUTPUTS", 1, "y1",
                   "|>", "AI.TENSORGET", "y0", "VALUES", "|>", "AI.TENSORGET", "y1", "VALUES")
    # op 1 (CPU:1) runs while op 0 still waits behind the gate on CPU:0
    wait_for(lambda: info(r, "f1")["calls"] == 1, "the CPU:1 op to run")
    assert info(r, "f0")["calls"] == 0
    assert blocked(r) == 2  # the gate's client and the DAG's
    gate.open()
    reply = dag.read()
    assert reply[:2] == [b"OK", b"OK"]
    assert values(reply[2]) == values(reply[3]) == [3.0, 5.0]
    dag.close()


def test_dependencies_read_and_write_after_read(engine, fm):
    r, gate = fm
    dag = send_dag(engine, "LOAD", 2, "x", "a", "PERSIST", 3, "u", "a", "v",
                   # reads the LOADed `a` before op 1 rebinds it (write after read)
                   "|>", "AI.MODELEXECUTE", "f0", "INPUTS", 1, "a", "OUTPUTS", 1, "u",
                   "|>", "AI.MODELEXECUTE", "f1", "INPUTS", 1, "x", "OUTPUTS", 1, "a",
                   "|>", "AI.MODELEXECUTE", "f1", "INPUTS", 1, "x", "OUTPUTS", 1, "v",
                   # reads op 1's `a` (read after write across devices)
                   "|>", "AI.MODELEXECUTE", "f0", "INPUTS", 1, "a", "OUTPUTS", 1, "w",
                   "|>", "AI.TENSORGET", "w", "VALUES")
    wait_for(lambda: info(r, "f1")["calls"] == 1, "the independent CPU:1 op to run")
    assert info(r, "f1")["calls"] == 1  # op 1 waits for op 0, which waits for the gate
    gate.open()
    assert dag.read() == [b"OK"] * 4 + [[b"7", b"11"]]
    assert values(r.execute_command("AI.TENSORGET", "u", "VALUES")) == [201.0, 201.0]
    assert values(r.execute_command("AI.TENSORGET", "a", "VALUES")) == [3.0, 5.0]
    assert values(r.execute_command("AI.TENSORGET", "v", "VALUES")) == [3.0, 5.0]
    dag.close()


def test_write_after_write_keeps_the_last_binding(engine, fm):
    r, gate = fm
    dag = send_dag(engine, "LOAD", 1, "x", "PERSIST", 1, "w",
                   "|>", "AI.MODELEXECUTE", "f0", "INPUTS", 1, "x", "OUTPUTS", 1, "w",
                   "|>", "AI.MODELEXECUTE", "f1", "INPUTS", 1, "x", "OUTPUTS", 1, "t",
                   "|>", "AI.MODELEXECUTE", "f1", "INPUTS", 1, "t", "OUTPUTS", 1, "w")
    wait_for(lambda: info(r, "f1")["calls"] == 1, "the independent CPU:1 op to run")
    assert info(r, "f1")["calls"] == 1  # op 2 writes `w` only after op 0 did
    gate.open()
    assert dag.read() == [b"OK"] * 3
    assert values(r.execute_command("AI.TENSORGET", "w", "VALUES")) == [7.0, 11.0]
    dag.close()


def test_failure_waits_for_earlier_ops_and_skips_later_ones(engine, fm):
    r, gate = fm
    r.execute_command("AI.TENSORSET", "bad", "FLOAT", 1, 2, "VALUES", 1, 2)
    dag = send_dag(engine, "LOAD", 2, "x", "bad", "PERSIST", 1, "y0",
                   "|>", "AI.MODELEXECUTE", "f0", "INPUTS", 1, "x", "OUTPUTS", 1, "y0",
                   "|>", "AI.MODELEXECUTE", "f1", "INPUTS", 1, "bad", "OUTPUTS", 1, "y1",
                   "|>", "AI.MODELEXECUTE", "f1", "INPUTS", 1, "x", "OUTPUTS", 1, "y2",
                   "|>", "AI.TENSORGET", "y0", "VALUES")
    wait_for(lambda: info(r, "f1")["errors"] == 1, "op 1 to fail")
    assert blocked(r) == 2  # the DAG still waits for op 0, which comes before the failure
    gate.open()
    reply = dag.read()
    assert reply[0] == b"OK"
    assert isinstance(reply[1], RespError)
    assert reply[1].text.startswith(b"Invalid rank for input: x Got: 2 Expected: 1")
    assert reply[2:] == [b"NA", b"NA"]
    assert info(r, "f0")["calls"] == 1
    assert info(r, "f1")["calls"] == 1  # op 2 was queued, but never started
    assert r.exists("y0") == 0  # nothing PERSISTed after a failure
    dag.close()


def test_op_that_ran_beside_the_failed_one_counts_as_not_executed(engine, fm):
    r, gate = fm
    r.execute_command("AI.TENSORSET", "bad", "FLOAT", 1, 2, "VALUES", 1, 2)
    r.execute_command("AI.TENSORSET", "y1", "FLOAT", 1, "VALUES", 42)
    dag = send_dag(engine, "LOAD", 2, "x", "bad", "PERSIST", 1, "y1",
                   "|>", "AI.MODELEXECUTE", "f0", "INPUTS", 1, "bad", "OUTPUTS", 1, "y0",
                   "|>", "AI.MODELEXECUTE", "f1", "INPUTS", 1, "x", "OUTPUTS", 1, "y1",
                   "|>", "AI.TENSORGET", "y1", "VALUES")
    wait_for(lambda: info(r, "f1")["calls"] == 1, "the CPU:1 op to run")
    gate.open()
    reply = dag.read()
    assert reply[0].text.startswith(b"Invalid rank for input: x Got: 2 Expected: 1")
    assert reply[1:] == [b"NA", b"NA"]  # op 1 ran, but comes after the failed op 0
    assert info(r, "f1")["calls"] == 1 and info(r, "f1")["errors"] == 0
    assert r.execute_command("AI.TENSORGET", "y1", "VALUES") == [b"42"]
    dag.close()


def test_timeout_while_an_op_waits_on_a_closed_queue(engine, fm):
    r, gate = fm
    dag = send_dag(engine, "LOAD", 1, "x", "PERSIST", 1, "y0", "TIMEOUT", 20,
                   "|>", "AI.MODELEXECUTE", "f0", "INPUTS", 1, "x", "OUTPUTS", 1, "y0")
    wait_for(lambda: blocked(r) == 2, "the DAG to wait")
    time.sleep(0.1)  # the op leaves its queue after its TIMEOUT
    gate.open()
    assert dag.read() == b"TIMEDOUT"
    assert info(r, "f0")["calls"] == 0
    assert r.exists("y0") == 0
    dag.close()


@needs_torch
def test_script_op_runs_on_its_own_device(engine, fm):
    r, gate = fm
    r.execute_command("AI.SCRIPTSTORE", "s1", "CPU:1", "ENTRY_POINTS", 1, "neg", "SOURCE",
                      "def neg(tensors: List[Tensor], keys: List[str], args: List[str]):\n"
                      "    return -tensors[0]\n")
    dag = send_dag(engine, "LOAD", 1, "x",
                   "|>", "AI.MODELEXECUTE", "f0", "INPUTS", 1, "x", "OUTPUTS", 1, "y0",
                   "|>", "AI.SCRIPTEXECUTE", "s1", "neg", "INPUTS", 1, "x", "OUTPUTS", 1, "n",
                   "|>", "AI.SCRIPTEXECUTE", "s1", "neg", "INPUTS", 1, "y0", "OUTPUTS", 1, "m",
                   "|>", "AI.TENSORGET", "n", "VALUES", "|>", "AI.TENSORGET", "m", "VALUES")
    wait_for(lambda: info(r, "s1")["calls"] == 1, "the CPU:1 script op to run")
    assert info(r, "s1")["calls"] == 1  # the second one needs y0
    gate.open()
    reply = dag.read()
    assert reply[:3] == [b"OK"] * 3
    assert values(reply[3]) == [-1.0, -2.0] and values(reply[4]) == [-3.0, -5.0]
    dag.close()


def test_two_slow_ops_on_two_devices_both_complete(engine, r):
    for device in ("CPU:0", "CPU:1"):
        r.execute_command("AI.MODELSTORE", "slow" + device[-1], "ONNX", device, "BLOB",
                          models.slow_matmuls(n=20, size=128))
    reply = r.execute_command("AI.DAGEXECUTE", "ROUTING", "t",
                              "|>", "AI.TENSORSET", "one", "FLOAT", 1, "VALUES", 1,
                              "|>", "AI.TENSORSET", "two", "FLOAT", 1, "VALUES", 2,
                              "|>", "AI.MODELEXECUTE", "slow0", "INPUTS", 1, "one", "OUTPUTS", 1, "a",
                              "|>", "AI.MODELEXECUTE", "slow1", "INPUTS", 1, "two", "OUTPUTS", 1, "b",
                              "|>", "AI.TENSORGET", "a", "VALUES", "|>", "AI.TENSORGET", "b", "VALUES")
    assert reply[:4] == [b"OK"] * 4
    # each product by W = 1/size keeps every entry at x: the sum is x * size^2
    assert values(reply[4]) == [128.0 * 128] and values(reply[5]) == [2 * 128.0 * 128]


def test_many_concurrent_dags_across_devices(server_factory):
    srv = server_factory(modules=[(ENGINE, ["THREADS_PER_QUEUE", 2, "INTRA_OP_PARALLELISM", 1])])
    r = srv.client()
    for device in DEVICES:
        tag = device.replace(":", "")
        r.execute_command("AI.MODELSTORE", "f" + tag, "ONNX", device, "BLOB", models.mul_add())
        r.execute_command("AI.MODELSTORE", "sub" + tag, "ONNX", device, "BLOB", sub_model())
    failures = []

    def client(c):
        rc = srv.client()
        for i in range(20):
            x = np.array([c, i, c - i], dtype=np.float32)
            k = float(c * 100 + i)
            rc.execute_command("AI.TENSORSET", f"x{c}", "FLOAT", 3, "BLOB", x.tobytes())
            reply = rc.execute_command(
                "AI.DAGEXECUTE", "LOAD", 1, f"x{c}", "PERSIST", 1, f"e{c}",
                "|>", "AI.MODELEXECUTE", "fCPU0", "INPUTS", 1, f"x{c}", "OUTPUTS", 1, "a",
                "|>", "AI.MODELEXECUTE", "fCPU1", "INPUTS", 1, "a", "OUTPUTS", 1, "b",
                "|>", "AI.MODELEXECUTE", "subCPU", "INPUTS", 2, "b", f"x{c}", "OUTPUTS", 1, "a",
                "|>", "AI.MODELEXECUTE", "fCPU0", "INPUTS", 1, f"x{c}", "OUTPUTS", 1, "c",
                "|>", "AI.TENSORSET", f"x{c}", "FLOAT", 3, "VALUES", k, k, k,
                "|>", "AI.MODELEXECUTE", "subCPU1", "INPUTS", 2, "a", f"x{c}", "OUTPUTS", 1, f"e{c}",
                "|>", "AI.MODELEXECUTE", "fCPU", "INPUTS", 1, "c", "OUTPUTS", 1, "c",
                "|>", "AI.TENSORGET", "a", "BLOB", "|>", "AI.TENSORGET", f"e{c}", "BLOB",
                "|>", "AI.TENSORGET", "c", "BLOB")
            a = f(f(x)) - x
            want = [a, a - k, f(f(x))]
            got = [np.frombuffer(b, dtype=np.float32) for b in reply[7:]] if len(reply) == 10 else []
            stored = np.frombuffer(rc.execute_command("AI.TENSORGET", f"e{c}", "BLOB"), dtype=np.float32)
            if reply[:7] != [b"OK"] * 7 or len(got) != 3 or \
                    not all(np.array_equal(g, w) for g, w in zip(got, want)) or \
                    not np.array_equal(stored, a - k):
                failures.append((c, i, reply))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert info(r, "fCPU0")["calls"] == 2 * 8 * 20
    assert info(r, "subCPU1")["calls"] == 8 * 20
