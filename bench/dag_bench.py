#!/usr/bin/env python3
"""AI.DAGEXECUTE against the same steps as separate commands and as a flow
(issue 5's benchmark), and two slow ops on CPU:0 and CPU:1 in one DAG.

    .venv/bin/python bench/dag_bench.py [--runs N] [--rounds R] [--engine .so]

Starts its own redis-server (tests/support/server.py: private directory,
unix socket, stopped by PID) with the engine and, if built, the Python host,
with INTRA_OP_PARALLELISM 1 (one thread per ONNX run, so two runs can use
two cores).  The steps: an ONNX MLP y = mlp(a) (a FLOAT [1, 32], y [1, 8])
and a TorchScript function z = y + b, returning z:
  - dag:        AI.DAGEXECUTE LOAD 2 a b |> MODELEXECUTE |> SCRIPTEXECUTE |> TENSORGET z
  - commands:   AI.MODELEXECUTE, AI.SCRIPTEXECUTE, AI.TENSORGET, one round trip each
  - pipelined:  the same three commands in one write
  - dag+set / commands+set: the same with the two inputs sent by the client
    (two TENSORSET ops inside the DAG / two AI.TENSORSET commands first)
  - flow:       RG.TRIGGER of a flow that builds the same DAG with
    redisAI.createDAGRunner (Input x2, ModelRun, ScriptRun, TensorGet, Run)
Each variant runs N times per round, R rounds, the variants alternating
round by round so load drift hits all alike; p50 of every run's latency.

Parallel ops: a DAG with two slow ONNX runs (slow_matmuls, some 30 ms each)
on CPU:0 and CPU:1, against the same DAG with both on CPU:0 (one worker, so
they run one after the other); p50 wall time of each and the ratio, which
approaches 2 with two free cores, and each DAG's concurrency (its ops' run
times from AI.INFO over its wall time), above 1 only when ops overlapped.
The client is a minimal RESP reader/writer (requests encoded once)."""
import argparse
import os
import socket
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from backends import models  # noqa: E402
from model_bench import mlp  # noqa: E402
from support.flows import HOST  # noqa: E402
from support.server import ENGINE, RedisServer  # noqa: E402

SCRIPT = "def addf(tensors: List[Tensor], keys: List[str], args: List[str]):\n    return tensors[0] + tensors[1]\n"
FLOW = '''
import redisAI

async def dagflow(record):
    d = redisAI.createDAGRunner()
    d.Input('a', redisAI.getTensorFromKey('a'))
    d.Input('b', redisAI.getTensorFromKey('b'))
    d.ModelRun(name='m', inputs=['a'], outputs=['y'])
    d.ScriptRun(name='s', func='addf', inputs=['y', 'b'], outputs=['z'])
    d.TensorGet('z')
    res = await d.Run()
    return redisAI.tensorToFlatList(res[0])

GB('CommandReader').map(dagflow).register(trigger='dagflow')
'''


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """One unix-socket connection: send encoded requests, read RESP2 replies."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.f = self.s.makefile("rb")

    def read(self):
        line = self.f.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind in (b"+", b":"):
            return rest
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError("unexpected reply %r" % line)

    def call(self, wire, nreplies=1):
        self.s.sendall(wire)
        return [self.read() for _ in range(nreplies)][-1]

    def close(self):
        self.f.close()
        self.s.close()


def variants(a_blob, b_blob):
    """name -> its requests, one round trip each (pipelined: one write)."""
    dag = ("|>", "AI.MODELEXECUTE", "m", "INPUTS", 1, "a", "OUTPUTS", 1, "y",
           "|>", "AI.SCRIPTEXECUTE", "s", "addf", "INPUTS", 2, "y", "b", "OUTPUTS", 1, "z",
           "|>", "AI.TENSORGET", "z", "BLOB")
    sets = ("|>", "AI.TENSORSET", "a", "FLOAT", 1, 32, "BLOB", a_blob, "|>", "AI.TENSORSET", "b", "FLOAT", 1, 8,
            "BLOB", b_blob)
    cmds = [encode("AI.MODELEXECUTE", "m", "INPUTS", 1, "a", "OUTPUTS", 1, "y"),
            encode("AI.SCRIPTEXECUTE", "s", "addf", "INPUTS", 2, "y", "b", "OUTPUTS", 1, "z"),
            encode("AI.TENSORGET", "z", "BLOB")]
    set_cmds = [encode("AI.TENSORSET", "a", "FLOAT", 1, 32, "BLOB", a_blob),
                encode("AI.TENSORSET", "b", "FLOAT", 1, 8, "BLOB", b_blob)]
    return {
        "dag": [encode("AI.DAGEXECUTE", "LOAD", 2, "a", "b", *dag)],
        "commands": cmds,
        "pipelined": [b"".join(cmds)],
        "dag+set": [encode("AI.DAGEXECUTE", "ROUTING", "a", *sets, *dag)],
        "commands+set": set_cmds + cmds,
        "flow": [encode("RG.TRIGGER", "dagflow")],
    }


def timed(conn, wires, nreplies):
    """Latency (us) of one run and its last reply."""
    t0 = time.perf_counter_ns()
    last = None
    for w, n in zip(wires, nreplies):
        last = conn.call(w, n)
    return (time.perf_counter_ns() - t0) / 1000, last


def result_of(name, last):
    if name == "flow":
        return np.array([float(v) for v in last[0].decode().strip("[]").split(",")], dtype=np.float32)
    if name.startswith("dag"):
        last = last[-1]
    return np.frombuffer(last, dtype=np.float32)


def start_server(engine, with_host):
    modules = [(HOST, [])] if with_host else []
    modules.append((engine, ["INTRA_OP_PARALLELISM", 1]))
    return RedisServer(modules=modules).start()


def register_flow(r):
    """('async', None) once the flow answers, else (None, why)."""
    try:
        r.execute_command("RG.PYEXECUTE", FLOW)
        r.execute_command("RG.TRIGGER", "dagflow")
        return "async", None
    except Exception as e:  # reported, not fatal: the host is optional
        return None, str(e).splitlines()[0]


def bench_steps(srv, runs, rounds, with_host):
    r = srv.client()
    rng = np.random.default_rng(5)
    a = rng.standard_normal((1, 32)).astype(np.float32)
    b = rng.standard_normal((1, 8)).astype(np.float32)
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", mlp())
    r.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "addf", "SOURCE", SCRIPT)
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 1, 32, "BLOB", a.tobytes())
    r.execute_command("AI.TENSORSET", "b", "FLOAT", 1, 8, "BLOB", b.tobytes())
    r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "a", "OUTPUTS", 1, "y")
    expected = np.frombuffer(r.execute_command("AI.TENSORGET", "y", "BLOB"), dtype=np.float32) + b.ravel()
    mode, why = register_flow(r) if with_host else (None, "build/redisgears_py.so not built")
    vs = variants(a.tobytes(), b.tobytes())
    nrep = {name: [1] * len(w) for name, w in vs.items()}
    nrep["pipelined"] = [3]
    if not mode:
        del vs["flow"]
    conn = Conn(srv.sock)
    samples = {name: [] for name in vs}
    for name, wires in vs.items():  # warm up, and check every variant's answer
        for _ in range(50):
            _, last = timed(conn, wires, nrep[name])
        got = result_of(name, last)
        assert np.allclose(got, expected, rtol=1e-5), (name, got, expected)
    for _ in range(rounds):
        for name, wires in vs.items():
            samples[name] += [timed(conn, wires, nrep[name])[0] for _ in range(runs)]
    conn.close()
    return {name: statistics.median(s) for name, s in samples.items()}, mode, why


def bench_parallel(srv, rounds):
    """p50 wall time (ms) of each DAG and its concurrency: the sum of its two
    ops' run times (AI.INFO) over its wall time, > 1 when they overlapped.
    Both on CPU:0 (s0, s1) is the sequential baseline; p0/p1 on CPU:0/CPU:1."""
    r = srv.client()
    slow = models.slow_matmuls(n=50, size=256)
    for key, device in (("s0", "CPU:0"), ("s1", "CPU:0"), ("p0", "CPU:0"), ("p1", "CPU:1")):
        r.execute_command("AI.MODELSTORE", key, "ONNX", device, "BLOB", slow)
    conn = Conn(srv.sock)

    def dag(first, second):
        return encode("AI.DAGEXECUTE", "ROUTING", "t", "|>", "AI.TENSORSET", "one", "FLOAT", 1, "VALUES", 1,
                      "|>", "AI.MODELEXECUTE", first, "INPUTS", 1, "one", "OUTPUTS", 1, "u",
                      "|>", "AI.MODELEXECUTE", second, "INPUTS", 1, "one", "OUTPUTS", 1, "v",
                      "|>", "AI.TENSORGET", "u", "VALUES", "|>", "AI.TENSORGET", "v", "VALUES")
    runs = {"seq": (dag("s0", "s1"), ("s0", "s1")), "par": (dag("p0", "p1"), ("p0", "p1"))}
    for w, _ in runs.values():  # warm up, and check the answers
        reply = conn.call(w)
        assert reply[3] == reply[4] == [str(256 * 256).encode()], reply
    for key in ("s0", "s1", "p0", "p1"):
        r.execute_command("AI.INFO", key, "RESETSTAT")
    walls = {name: [] for name in runs}
    for _ in range(rounds):
        for name, (w, _) in runs.items():
            walls[name].append(timed(conn, [w], [1])[0] / 1000)
    conn.close()
    out = {}
    for name, (_, keys) in runs.items():
        op_ms = 0.0
        for key in keys:
            info = r.execute_command("AI.INFO", key)
            op_ms += info[info.index(b"duration") + 1] / 1000
        out[name] = (statistics.median(walls[name]), op_ms / sum(walls[name]))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=500, help="runs of each variant per round")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--slow-rounds", type=int, default=15)
    ap.add_argument("--engine", default=ENGINE, help="the engine .so (to compare builds)")
    a = ap.parse_args()
    with_host = os.path.exists(HOST)
    srv = start_server(a.engine, with_host)
    try:
        p50, mode, why = bench_steps(srv, a.runs, a.rounds, with_host)
        slow = bench_parallel(srv, a.slow_rounds)
    finally:
        srv.stop()

    print(f"DAG benchmark: ONNX MLP 32->256->8 + TorchScript add, {a.runs} runs x {a.rounds} rounds per variant, "
          f"p50 latency, engine {a.engine}, INTRA_OP_PARALLELISM 1, load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs")
    base = p50["dag"]
    for name, us in p50.items():
        label = f"flow ({mode})" if name == "flow" else name
        print(f"  {label:14s} p50 {us:8.1f} us   / dag {us / base:5.2f}")
    if "flow" not in p50:
        print(f"  flow: skipped ({why})")
    print(f"  separate commands / DAG          = {p50['commands'] / base:5.2f}")
    print(f"  separate commands+set / DAG+set  = {p50['commands+set'] / p50['dag+set']:5.2f}")
    if "flow" in p50:
        print(f"  flow (createDAGRunner) / DAG     = {p50['flow'] / base:5.2f}")
    print(f"two slow ONNX ops (slow_matmuls n=50 size=256), {a.slow_rounds} runs each, p50 wall time:")
    (seq, seq_c), (par, par_c) = slow["seq"], slow["par"]
    print(f"  both on CPU:0 (sequential)  {seq:7.1f} ms   concurrency {seq_c:4.2f}")
    print(f"  CPU:0 and CPU:1 (parallel)  {par:7.1f} ms   concurrency {par_c:4.2f}")
    print(f"  sequential / parallel wall time = {seq / par:5.2f}  (2.0 = full overlap on two free cores)")
    print("  (concurrency = the two ops' run times from AI.INFO over the DAG's wall time: above 1 when they"
          " overlapped, whatever the load)")


if __name__ == "__main__":
    main()
