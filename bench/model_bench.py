#!/usr/bin/env python3
"""AI.MODELEXECUTE on a tiny ONNX MLP (32 -> 256 -> 8), against baselines
measured in the same run (issue 4's benchmark).

    .venv/bin/python bench/model_bench.py [--requests N] [--rounds R]

Starts its own redis-server with the engine (tests/support/server.py: a
private directory, a unix socket, stopped by PID) and drives it with
redis-benchmark over that socket.  Each comparison runs its two sides alternately, R times, and reports the
median of the per-round ratios (and the medians of the raw figures):
  - one client: p50/p99 of AI.MODELEXECUTE and of PING; the p50 difference is
    what a model run costs over a plain round trip (target <= 35 us), next to
    the model's own run time in-process (ONNX Runtime's Python API, and the
    engine's ONNX backend library through build/tests/ort_probe);
  - 8 clients: AI.MODELEXECUTE throughput / PING throughput (target >= 0.85),
    next to the ceiling the CPUs allow when the load generator shares them
    (cpu_ceiling);
  - 32 clients: throughput with BATCHSIZE 16 / without (target >= 1.3);
  - the server CPU of a PING with the engine loaded but quiet, over the
    same without modules (what the engine costs other traffic);
  - the 1- and 8-client pairs again with WORKER_SPIN_US (idle workers watch
    their queue instead of sleeping: latency for CPU), and the CPU a run
    costs with and without it when runs come 1 ms apart;
  - if the Python host is built: a flow doing getTensorFromKey ->
    createModelRunner -> modelRunnerRunAsync -> setTensorInKey, p50 against
    AI.MODELEXECUTE's (target <= 1.6).
Numbers depend on the machine; the ratios are what to compare."""
import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support.server import BUILD, ENGINE, RedisServer  # noqa: E402

HOST = os.path.join(BUILD, "redisgears_py.so")
ORT_LIB = os.path.join(BUILD, "backends", "redisai_onnxruntime", "redisai_onnxruntime.so")
ORT_PROBE = os.path.join(BUILD, "tests", "ort_probe")
EXECUTE = ["AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y"]


def mlp():
    """y = relu(x @ W1 + b1) @ W2 + b2; x FLOAT [N, 32], y FLOAT [N, 8]."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = (rng.standard_normal((32, 256)) * 0.1).astype(np.float32)
    b1 = rng.standard_normal(256).astype(np.float32)
    w2 = (rng.standard_normal((256, 8)) * 0.1).astype(np.float32)
    b2 = rng.standard_normal(8).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"])]
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])],
        [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model.SerializeToString()


def server_cpu_ns(srv):
    """CPU time used so far by every thread of the server (ns, schedstat)."""
    with open(srv.pidfile) as f:
        pid = f.read().strip()
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:  # a thread that just ended
            pass
    return total


def children_cpu_s():
    t = os.times()
    return t.children_user + t.children_system


def redis_benchmark(srv, clients, requests, cmd):
    """(requests/s, p50 us, p99 us, server CPU us per request, load generator
    CPU us per request) of `cmd` with `clients` connections."""
    cpu, client_cpu = server_cpu_ns(srv), children_cpu_s()
    out = subprocess.run(["redis-benchmark", "-s", srv.sock, "-c", str(clients), "-n", str(requests), "--csv",
                          *[str(a) for a in cmd]], capture_output=True, text=True, check=True).stdout
    cpu = (server_cpu_ns(srv) - cpu) / 1000 / requests
    client_cpu = (children_cpu_s() - client_cpu) * 1e6 / requests
    row = list(csv.DictReader(io.StringIO(out)))[-1]
    return (float(row["rps"]), float(row["p50_latency_ms"]) * 1000, float(row["p99_latency_ms"]) * 1000, cpu,
            client_cpu)


def spaced_cpu_us(srv, r, runs=1000, gap_s=0.001):
    """Server CPU per run when runs come `gap_s` apart (one client that
    waits between them): what an idle worker's spinning costs there."""
    cpu = server_cpu_ns(srv)
    for _ in range(runs):
        r.execute_command(*EXECUTE)
        until = time.perf_counter() + gap_s
        while time.perf_counter() < until:  # sleep() would oversleep by far more than the gap
            pass
    return (server_cpu_ns(srv) - cpu) / 1000 / runs


def cpu_ceiling(ping, model_us):
    """The 8-client ratio that no engine could beat here when server and
    load generator share the CPUs: the CPU a PING costs (server + load
    generator) over that cost plus one run of the model alone."""
    per_ping = ping[3] + ping[4]
    return per_ping / (per_ping + model_us)


def paired(n, fn_a, fn_b):
    """Runs fn_a and fn_b alternately n times (so both see the same machine
    load); returns the median of each field of each, the median of the
    per-round ratios b/a of field 0 (throughput) and of field 1 (p50), and
    the median per-round difference of field 1."""
    a, b = [], []
    for _ in range(n):
        a.append(fn_a())
        b.append(fn_b())
    med = lambda runs: tuple(statistics.median(r[i] for r in runs) for i in range(len(runs[0])))  # noqa: E731
    ratio = lambda f: statistics.median(y[f] / x[f] for x, y in zip(a, b))  # noqa: E731
    diff = statistics.median(y[1] - x[1] for x, y in zip(a, b))
    return med(a), med(b), ratio(0), ratio(1), diff


def engine_quiet_tax(engine, blob, x, n, k):
    """Server CPU of a PING on a server with the engine, a while after its
    last run, over the same on a server without modules (median of the
    per-round ratios): what loading the engine costs other traffic."""
    bare = RedisServer().start()
    srv = RedisServer(modules=[(engine, [])]).start()
    try:
        setup(srv.client(), blob, x)
        time.sleep(2.5)  # the engine stops watching the event loop after a quiet second
        ratios = []
        for _ in range(k):
            plain = redis_benchmark(bare, 1, n, ["PING"])[3]
            ratios.append(redis_benchmark(srv, 1, n, ["PING"])[3] / plain)
        return statistics.median(ratios)
    finally:
        srv.stop()
        bare.stop()


def ort_python_us(blob, x, iters=20000):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])
    feed = {"x": x}
    for _ in range(1000):
        sess.run(None, feed)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter_ns()
        sess.run(None, feed)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000


def backend_lib_us(blob, x):
    """Mean steady run of the engine's ONNX backend library outside Redis."""
    if not os.path.exists(ORT_PROBE):
        return None
    with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
        f.write(blob)
        f.flush()
        arg = "FLOAT:1x32:" + ",".join(repr(float(v)) for v in x.ravel())
        p = subprocess.run([ORT_PROBE, ORT_LIB, f.name, "--iters", "20000", arg], capture_output=True, text=True)
    for word in p.stderr.split():
        if word.startswith("steady_us="):
            return float(word.split("=")[1])
    return None


FLOW = '''
import redisAI

async def run(rec):
    t = redisAI.getTensorFromKey('x')
    r = redisAI.createModelRunner('m')
    redisAI.modelRunnerAddInput(r, 'x', t)
    redisAI.modelRunnerAddOutput(r, 'y')
    out = await redisAI.modelRunnerRunAsync(r)
    redisAI.setTensorInKey('yf', out[0])
    return 'OK'

GB('CommandReader').map(run).register(trigger='flow', mode=MODE)
'''


def flow_server(blob, x, modes=("sync", "async_local", "async")):
    """A server with the host and a registered flow that works, or (None, why)."""
    if not os.path.exists(HOST):
        return None, "build/redisgears_py.so not built"
    why = "no mode worked"
    for mode in modes:
        srv = RedisServer(modules=[(HOST, []), (ENGINE, [])])
        try:
            srv.start()
            r = srv.client()
            setup(r, blob, x)
            r.execute_command("RG.PYEXECUTE", FLOW.replace("MODE", repr(mode)))
            if r.execute_command("RG.TRIGGER", "flow") == [b"OK"] and r.exists("yf"):
                return srv, mode
            why = "flow did not run"
        except Exception as e:  # reported, not fatal: the host is optional
            why = str(e).splitlines()[0]
        srv.stop()
    return None, why


def setup(r, blob, x, *options):
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", *options, "BLOB", blob)
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 32, "BLOB", x.tobytes())
    r.execute_command(*EXECUTE)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--engine-args", default="", help="module arguments, e.g. 'INTRA_OP_PARALLELISM 1'")
    ap.add_argument("--engine", default=ENGINE, help="the engine .so (to compare builds)")
    ap.add_argument("--spin", type=int, default=200, help="WORKER_SPIN_US for the spinning rows")
    a = ap.parse_args()
    n, k = a.requests, a.rounds
    blob = mlp()
    x = np.random.default_rng(1).standard_normal((1, 32)).astype(np.float32)

    srv = RedisServer(modules=[(a.engine, a.engine_args.split())]).start()
    try:
        r = srv.client()
        setup(r, blob, x)
        r.execute_command("AI.MODELSTORE", "mb", "ONNX", "CPU", "BATCHSIZE", 16, "BLOB", blob)
        bench = lambda c, cmd: lambda: redis_benchmark(srv, c, n, cmd)  # noqa: E731
        # one client: latency; 8 clients: throughput; 32 clients: batching
        ping1, exec1, _, _, over = paired(k, bench(1, ["PING"]), bench(1, EXECUTE))
        ping8, exec8, ratio8, _, _ = paired(k, bench(8, ["PING"]), bench(8, EXECUTE))
        plain32, batch32, gain, _, _ = paired(k, bench(32, EXECUTE), bench(32, ["AI.MODELEXECUTE", "mb", "INPUTS", 1,
                                                                                "x", "OUTPUTS", 1, "y"]))
        # the same latency and throughput pairs with idle workers spinning
        r.execute_command("AI.CONFIG", "WORKER_SPIN_US", a.spin)
        sping1, sexec1, _, _, sover = paired(k, bench(1, ["PING"]), bench(1, EXECUTE))
        _, sexec8, sratio8, _, _ = paired(k, bench(8, ["PING"]), bench(8, EXECUTE))
        sspaced = spaced_cpu_us(srv, r)
        r.execute_command("AI.CONFIG", "WORKER_SPIN_US", 0)
        spaced = spaced_cpu_us(srv, r)
    finally:
        srv.stop()
    ort_py = ort_python_us(blob, x)
    lib = backend_lib_us(blob, x)
    quiet_tax = engine_quiet_tax(a.engine, blob, x, n, k)

    fsrv, mode = flow_server(blob, x)
    flow = None
    if fsrv:
        try:
            flow_exec, flow, _, flow_ratio, _ = paired(
                k, lambda: redis_benchmark(fsrv, 1, n // 4, EXECUTE),
                lambda: redis_benchmark(fsrv, 1, n // 4, ["RG.TRIGGER", "flow"]))
        finally:
            fsrv.stop()

    print(f"tiny MLP 32->256->8 (ONNX), {n} requests x {k} rounds (medians), redis-benchmark on a unix socket,"
          f" engine arguments: {a.engine_args or '(none)'}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  1 client   PING             p50 {ping1[1]:6.1f} us  p99 {ping1[2]:6.1f} us  {ping1[0]:9.0f} req/s"
          f"  server CPU {ping1[3]:5.1f} us/req")
    print(f"  1 client   AI.MODELEXECUTE  p50 {exec1[1]:6.1f} us  p99 {exec1[2]:6.1f} us  {exec1[0]:9.0f} req/s"
          f"  server CPU {exec1[3]:5.1f} us/req")
    print(f"  in-process model run: onnxruntime Python p50 {ort_py:.1f} us"
          + (f", engine backend library mean {lib:.1f} us" if lib is not None else ""))
    print(f"  MODELEXECUTE p50 - PING p50      = {over:6.1f} us   (target <= 35)   {'ok' if over <= 35 else 'MISSED'}")
    print(f"  8 clients  PING {ping8[0]:9.0f} req/s  MODELEXECUTE {exec8[0]:9.0f} req/s"
          f"  (server CPU {ping8[3]:.1f} vs {exec8[3]:.1f} us/req)")
    print(f"  8-client throughput MODELEXECUTE / PING = {ratio8:5.2f}  (target >= 0.85) "
          f"{'ok' if ratio8 >= 0.85 else 'MISSED'}")
    model_us = lib if lib is not None else ort_py
    print(f"    load generator CPU {ping8[4]:.1f} us per PING, {exec8[4]:.1f} per MODELEXECUTE; on {os.cpu_count()} CPUs"
          f" shared by both, an engine that added only the model's own run ({model_us:.1f} us) to a PING would reach about"
          f" {cpu_ceiling(ping8, model_us):.2f}")
    print(f"  PING on a server with the engine, quiet since its last run / on one without modules: server CPU"
          f" x{quiet_tax:.2f}")
    print(f"  32 clients unbatched {plain32[0]:9.0f} req/s  BATCHSIZE 16 {batch32[0]:9.0f} req/s"
          f"  (server CPU {plain32[3]:.1f} vs {batch32[3]:.1f} us/req)")
    print(f"  BATCHSIZE 16 / unbatched throughput = {gain:5.2f}  (target >= 1.3)  {'ok' if gain >= 1.3 else 'MISSED'}")
    print(f"  with WORKER_SPIN_US {a.spin}: 1 client MODELEXECUTE p50 {sexec1[1]:.1f} us (PING {sping1[1]:.1f} us),"
          f" p50 - PING p50 = {sover:.1f} us {'ok' if sover <= 35 else 'MISSED'};  8 clients {sexec8[0]:.0f} req/s,"
          f" / PING = {sratio8:.2f} {'ok' if sratio8 >= 0.85 else 'MISSED'}  (server CPU {sexec1[3]:.1f} us/req at 1 client)")
    print(f"    runs 1 ms apart (the spin adapts: none there): server CPU {sspaced:.1f} us/run with WORKER_SPIN_US"
          f" {a.spin}, {spaced:.1f} without")
    if flow:
        print(f"  flow ({mode}) p50 {flow[1]:.1f} us vs AI.MODELEXECUTE p50 {flow_exec[1]:.1f} us on that server")
        print(f"  flow p50 / MODELEXECUTE p50 = {flow_ratio:5.2f}  (target <= 1.6)  "
              f"{'ok' if flow_ratio <= 1.6 else 'MISSED'}")
    else:
        print(f"  flow: skipped ({mode})")


if __name__ == "__main__":
    main()
