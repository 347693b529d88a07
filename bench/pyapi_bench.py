#!/usr/bin/env python3
"""The redisAI Python API inside flows against the same work from a client.

Starts its own redis-server with the Python host and the engine
(tests/support/server.py: private directory, unix socket, stopped by PID) and
measures, in the same run:

1. tensors, 4 KB: per iteration inside a flow, createTensorFromBlob +
   setTensorInKey + getTensorFromKey + tensorGetDataAsBlob (timed in the
   flow, in an async registration -- execution thread, the Redis lock taken
   per keyspace call -- and in a sync one -- Redis's main thread, lock held)
   against AI.TENSORSET + AI.TENSORGET BLOB of the same bytes from a client;
2. models (the ONNX linear layer of tests/backends/models.py, x [1,3]):
   createModelRunner + modelRunnerAddInput/AddOutput + awaited
   modelRunnerRunAsync timed inside a flow, against AI.MODELEXECUTE from a
   client;
3. a whole flow through RG.TRIGGER (getTensorFromKey -> createModelRunner ->
   modelRunnerRunAsync -> setTensorInKey) against AI.MODELEXECUTE, both
   client round trips.  Target (issue 4): at most 1.6x at p50.  An empty
   `async def` flow is timed alongside: the host's own floor for any flow
   that awaits.

Client-side commands alternate call by call so drift hits both alike; every
figure is a median (p50).  The client is tensor_bench's minimal RESP client.

    .venv/bin/python bench/pyapi_bench.py [--calls N]
"""
import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "backends"))
sys.path.insert(0, HERE)
import models  # noqa: E402
from support.flows import HOST  # noqa: E402
from support.server import ENGINE, RedisServer  # noqa: E402
from tensor_bench import Conn, encode  # noqa: E402

TARGET_FLOW = 1.6

FLOWS = r'''
import os, statistics, time
import redisAI as ai

BLOB = os.urandom(4096)

def tensors(rec):
    n, times = int(rec[1]), []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        t = ai.createTensorFromBlob('UINT8', [4096], BLOB)
        ai.setTensorInKey('bench:ft', t)
        ai.tensorGetDataAsBlob(ai.getTensorFromKey('bench:ft'))
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000.0

async def model_runs(rec):
    n, times = int(rec[1]), []
    x = ai.getTensorFromKey('bench:x')
    for _ in range(n):
        t0 = time.perf_counter_ns()
        r = ai.createModelRunner('bench:m')
        ai.modelRunnerAddInput(r, 'x', x)
        ai.modelRunnerAddOutput(r, 'y')
        await ai.modelRunnerRunAsync(r)
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1000.0

async def model_flow(rec):
    r = ai.createModelRunner('bench:m')
    ai.modelRunnerAddInput(r, 'x', ai.getTensorFromKey('bench:x'))
    ai.modelRunnerAddOutput(r, 'y')
    ai.setTensorInKey('bench:fy', (await ai.modelRunnerRunAsync(r))[0])
    return 'ok'

async def noop(rec):
    return 'ok'

GB('CommandReader').map(noop).register(trigger='noop')
GB('CommandReader').map(tensors).register(trigger='tensors_async')
GB('CommandReader').map(tensors).register(trigger='tensors_sync', mode='sync')
GB('CommandReader').map(model_runs).register(trigger='model_runs')
GB('CommandReader').map(model_flow).register(trigger='model_flow')
'''


def p50_us(times_ns):
    return statistics.median(times_ns) / 1000.0


def alternate(conn, requests, calls):
    """Times each request `calls` times, alternating; p50 in us per request."""
    for _ in range(max(3, calls // 10)):  # warm up
        for r in requests:
            conn.call(r)
    times = [[] for _ in requests]
    for _ in range(calls):
        for i, r in enumerate(requests):
            t0 = time.perf_counter_ns()
            conn.call(r)
            times[i].append(time.perf_counter_ns() - t0)
    return [p50_us(t) for t in times]


def pairs(conn, first, second, calls):
    """p50 of (first + second) timed together, `calls` times."""
    for _ in range(max(3, calls // 10)):
        conn.call(first)
        conn.call(second)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        conn.call(first)
        conn.call(second)
        times.append(time.perf_counter_ns() - t0)
    return p50_us(times)


def in_flow(client, trigger, calls):
    """The p50 (us) a flow measured itself over `calls` iterations."""
    client.execute_command("RG.TRIGGER", trigger, max(3, calls // 10))  # warm up
    return float(client.execute_command("RG.TRIGGER", trigger, calls)[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=3000, help="iterations per measurement")
    args = ap.parse_args()
    if not os.path.exists(HOST):
        sys.exit("build/redisgears_py.so is missing: run make")

    srv = RedisServer(modules=[(HOST, []), (ENGINE, [])]).start()
    try:
        c = srv.client()
        assert c.execute_command("RG.PYEXECUTE", FLOWS) == b"OK"
        c.execute_command("AI.MODELSTORE", "bench:m", "ONNX", "CPU", "BLOB", models.linear())
        c.execute_command("AI.TENSORSET", "bench:x", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
        conn = Conn(srv.sock, 1 << 16)
        print("redis-server %s, %d calls per figure, p50" % (c.info("server")["redis_version"], args.calls))

        blob = os.urandom(4096)
        client = pairs(conn, encode("AI.TENSORSET", "bench:ct", "UINT8", 4096, "BLOB", blob),
                       encode("AI.TENSORGET", "bench:ct", "BLOB"), args.calls)
        fa = in_flow(c, "tensors_async", args.calls)
        fs = in_flow(c, "tensors_sync", args.calls)
        print("\n4 KB tensor: create+set+get+blob in a flow vs AI.TENSORSET+AI.TENSORGET from a client")
        print("  client TENSORSET+TENSORGET  %8.1f us" % client)
        print("  flow, async registration    %8.1f us  ratio %.3fx" % (fa, fa / client))
        print("  flow, sync registration     %8.1f us  ratio %.3fx" % (fs, fs / client))

        execute = encode("AI.MODELEXECUTE", "bench:m", "INPUTS", 1, "bench:x", "OUTPUTS", 1, "bench:y")
        trigger = encode("RG.TRIGGER", "model_flow")
        mx, flow, noop = alternate(conn, [execute, trigger, encode("RG.TRIGGER", "noop")], args.calls)
        runs = in_flow(c, "model_runs", args.calls)
        print("\nONNX linear [1,3]: modelRunnerRunAsync round trip vs AI.MODELEXECUTE")
        print("  client AI.MODELEXECUTE                       %8.1f us" % mx)
        print("  in a flow: runner + awaited RunAsync         %8.1f us  ratio %.3fx" % (runs, runs / mx))
        print("  RG.TRIGGER get->runner->RunAsync->set flow   %8.1f us  ratio %.3fx" % (flow, flow / mx))
        print("  RG.TRIGGER of an empty async-def flow        %8.1f us  (the host's floor for any such flow)"
              % noop)
        if flow / mx <= TARGET_FLOW:
            print("target met: the flow is at most %.1fx AI.MODELEXECUTE" % TARGET_FLOW)
        else:
            print("target missed: flow ratio %.3f > %.1f" % (flow / mx, TARGET_FLOW))
        conn.sock.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
