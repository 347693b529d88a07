#!/usr/bin/env python3
"""AI.TENSORSET/AI.TENSORGET BLOB against SET/GET of the same bytes.

Starts its own redis-server with the engine (tests/support/server.py: private
directory, unix socket, stopped by PID), then for each size times both pairs
of commands on the same server in the same run, alternating them call by
call so drift hits both alike.  It does so in R rounds and prints the median
(p50) per call, and the ratio tensor/string: the median of the ratios of
calls made side by side, over all rounds, with the range of the rounds' own.
Target (issue 2): at most 1.05x at 1 MB and 16 MB.

Rounds matter at 16 MB: each such write, of either kind, faults in all of
its 4096 pages again (the allocator gives freed extents that large back to
the kernel), so a single run's ratio swings by +-15% with the kernel's page
fault costs, though both sides do the same work.

The client is a minimal RESP writer/reader over the socket: requests are
encoded once and replies are read into a preallocated buffer, so the client
costs the same for both sides and as little as possible.

    .venv/bin/python bench/tensor_bench.py [--sizes 4K,1M,16M] [--repeat N] [--rounds R]
"""
import argparse
import os
import socket
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from support.server import ENGINE, RedisServer  # noqa: E402

TARGET = 1.05
DEFAULT_CALLS = {4 << 10: 1000, 1 << 20: 100, 16 << 20: 16}  # per round


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += [b"$%d\r\n" % len(a), a, b"\r\n"]
    return out  # a list: big blobs are sent without joining (no extra copy)


class Conn:
    def __init__(self, path, max_reply):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buf = bytearray(max_reply + 64)
        self.view = memoryview(self.buf)

    def call(self, parts):
        """Sends one pre-encoded request; returns the reply's size in bytes."""
        sent, total = self.sock.sendmsg(parts), sum(len(p) for p in parts)
        if sent < total:  # a partial write: send the rest
            self.sock.sendall(b"".join(parts)[sent:])
        got = self.sock.recv_into(self.view)
        head_end = self.buf.find(b"\r\n", 0, got)
        while head_end < 0:
            got += self.sock.recv_into(self.view[got:])
            head_end = self.buf.find(b"\r\n", 0, got)
        kind = self.buf[0:1]
        if kind == b"-":
            raise RuntimeError(bytes(self.buf[:head_end]).decode())
        if kind != b"$":
            return got
        total = head_end + 2 + int(self.buf[1:head_end]) + 2
        while got < total:
            got += self.sock.recv_into(self.view[got:total])
        return got


def timed(conn, parts):
    t0 = time.perf_counter_ns()
    conn.call(parts)
    return time.perf_counter_ns() - t0


def measure(conn, size, calls):
    blob = os.urandom(size)
    tset = encode("AI.TENSORSET", "bench:t", "UINT8", size, "BLOB", blob)
    sset = encode("SET", "bench:s", blob)
    tget = encode("AI.TENSORGET", "bench:t", "BLOB")
    sget = encode("GET", "bench:s")
    warm = max(3, calls // 10)
    times = {"tset": [], "sset": [], "tget": [], "sget": []}
    for i in range(warm + calls):
        # alternate which side goes first, so neither always follows the other
        order = ("tset", "sset") if i % 2 else ("sset", "tset")
        pair = {"tset": tset, "sset": sset}
        for name in order:
            t = timed(conn, pair[name])
            if i >= warm:
                times[name].append(t)
    for i in range(warm + calls):
        order = ("tget", "sget") if i % 2 else ("sget", "tget")
        pair = {"tget": tget, "sget": sget}
        for name in order:
            t = timed(conn, pair[name])
            if i >= warm:
                times[name].append(t)
    return times  # ns per call; tset[i] and sset[i] ran side by side (also the GETs)


def pair_ratio(times, a, b):
    """The median of the ratios of calls made side by side: the kernel's
    cost swings from one moment to the next, and a pair shares the moment."""
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20}
    return int(s[:-1]) * mult[s[-1].upper()] if s[-1].upper() in mult else int(s)


def human(n):
    return "%d MB" % (n >> 20) if n >= 1 << 20 else "%d KB" % (n >> 10)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="4K,1M,16M")
    ap.add_argument("--repeat", type=int, default=0, help="calls per size and round (default: by size)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds; the ratio is their median")
    args = ap.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]

    srv = RedisServer(modules=[(ENGINE, [])]).start()
    try:
        conn = Conn(srv.sock, max(sizes))
        print("redis-server %s, engine %s" % (srv.client().info("server")["redis_version"], ENGINE))
        print("%-7s %8s| %12s %12s %6s | %12s %12s %6s" % (
            "size", "rnd x n", "TENSORSET", "SET", "ratio", "TENSORGET", "GET", "ratio"))
        missed = []
        for size in sizes:
            calls = args.repeat or DEFAULT_CALLS.get(size, 100)
            rounds = [measure(conn, size, calls) for _ in range(args.rounds)]
            every = {k: sum((r[k] for r in rounds), []) for k in rounds[0]}
            med = {k: statistics.median(v) / 1000.0 for k, v in every.items()}  # µs
            rs, rg = pair_ratio(every, "tset", "sset"), pair_ratio(every, "tget", "sget")
            set_ratios = sorted(pair_ratio(r, "tset", "sset") for r in rounds)
            get_ratios = sorted(pair_ratio(r, "tget", "sget") for r in rounds)
            print("%-7s %3dx%-4d| %10.1fus %10.1fus %5.3fx | %10.1fus %10.1fus %5.3fx"
                  "   (round ratios %.3f-%.3f, %.3f-%.3f)" % (
                      human(size), args.rounds, calls, med["tset"], med["sset"], rs, med["tget"],
                      med["sget"], rg, set_ratios[0], set_ratios[-1], get_ratios[0], get_ratios[-1]))
            if size >= 1 << 20:
                missed += [(human(size), n, x) for n, x in (("SET", rs), ("GET", rg)) if x > TARGET]
        for size, what, ratio in missed:
            print("target missed: %s %s ratio %.3f > %.2f" % (size, what, ratio, TARGET))
        if not missed:
            print("target met: ratios at >= 1 MB are at most %.2fx" % TARGET)
        conn.sock.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
