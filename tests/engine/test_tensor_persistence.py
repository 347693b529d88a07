"""Tensors survive: a 64 MB round trip, DEBUG RELOAD, RDB and AOF restarts,
DUMP/RESTORE and replication (spec §5.3, §5.4)."""
import glob
import os

import numpy as np
import pytest

from tensor_helpers import info_field, wait_for

# key -> (TENSORSET args after the key, expected TENSORGET META BLOB reply)
def dataset():
    rng = np.random.default_rng(3)
    big = rng.standard_normal((128, 64)).astype(np.float32)  # 32 KB: borrowed blob
    strings = [b"alpha", b"", b"\xc3\xa9t\xc3\xa9", b"x" * 5000]
    sblob = b"".join(s + b"\0" for s in strings)
    items = {
        "f": ("FLOAT", [2, 2], np.array([1.5, -2, 3.25, 4], np.float32).tobytes()),
        "d": ("DOUBLE", [3], np.array([0.1, 1e300, -7], np.float64).tobytes()),
        "i8": ("INT8", [4], np.array([-128, 127, 0, 5], np.int8).tobytes()),
        "i16": ("INT16", [2], np.array([-32768, 32767], np.int16).tobytes()),
        "i32": ("INT32", [1, 2], np.array([-2**31, 2**31 - 1], np.int32).tobytes()),
        "i64": ("INT64", [2], np.array([-2**63, 2**63 - 1], np.int64).tobytes()),
        "u8": ("UINT8", [3], bytes([0, 1, 255])),
        "u16": ("UINT16", [2], np.array([0, 65535], np.uint16).tobytes()),
        "b": ("BOOL", [2, 2], bytes([1, 0, 0, 1])),
        "s": ("STRING", [2, 2], sblob),
        "s1": ("STRING", [], b"scalar\0"),
        "scalar": ("DOUBLE", [], np.array([42.5]).tobytes()),
        "big": ("FLOAT", [128, 64], big.tobytes()),
        "z": ("INT32", [3], b"\0" * 12),
        # more dims than a naive fixed-size loader would accept
        "rank70": ("UINT8", [1] * 69 + [2], b"\x07\x09"),
    }
    return items


def write_dataset(r, prefix=""):
    for k, (dt, dims, blob) in dataset().items():
        assert r.execute_command("AI.TENSORSET", prefix + k, dt, *dims, "BLOB", blob) == b"OK"


def check_dataset(r, prefix=""):
    for k, (dt, dims, blob) in dataset().items():
        got = r.execute_command("AI.TENSORGET", prefix + k, "META", "BLOB")
        assert got == [b"dtype", dt.encode(), b"shape", dims, b"blob", blob], k
        assert r.type(prefix + k) == b"AI_TENSOR"
    s = r.execute_command("AI.TENSORGET", prefix + "s", "VALUES")
    assert s == [b"alpha", b"", b"\xc3\xa9t\xc3\xa9", b"x" * 5000]


def test_64mb_blob_round_trip(r):
    n = 64 * 1024 * 1024
    blob = np.random.default_rng(1).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert r.execute_command("AI.TENSORSET", "huge", "UINT8", 1024, 64 * 1024, "BLOB", blob) == b"OK"
    assert r.execute_command("AI.TENSORGET", "huge", "BLOB") == blob
    meta = r.execute_command("AI.TENSORGET", "huge", "META")
    assert meta == [b"dtype", b"UINT8", b"shape", [1024, 65536]]
    assert r.memory_usage("huge") >= n
    r.execute_command("DEBUG", "RELOAD")
    assert r.execute_command("AI.TENSORGET", "huge", "BLOB") == blob


def test_debug_reload(r):
    write_dataset(r)
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    check_dataset(r)


def test_restart_from_rdb(engine):
    r = engine.client()
    write_dataset(r)
    assert r.save()
    engine.restart()
    r = engine.client()
    check_dataset(r)
    assert r.dbsize() == len(dataset())


def aof_files(srv):
    return sorted(glob.glob(os.path.join(srv.dir, "appendonlydir", "*")))


def aof_rewrite_done(r):
    return (info_field(r, "persistence", "aof_rewrite_in_progress") in ("0", 0)
            and info_field(r, "persistence", "aof_rewrite_scheduled") in ("0", 0))


def test_restart_from_aof_rewrite_without_rdb_preamble(server_factory):
    srv = server_factory(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")])
    r = srv.client()
    write_dataset(r)
    wait_for(lambda: aof_rewrite_done(r), "initial AOF rewrite")
    r.bgrewriteaof()
    wait_for(lambda: aof_rewrite_done(r) and info_field(r, "persistence", "aof_last_bgrewrite_status") == "ok",
             "BGREWRITEAOF")
    bases = [f for f in aof_files(srv) if ".base." in f]
    assert len(bases) == 1 and bases[0].endswith(".base.aof"), aof_files(srv)
    with open(bases[0], "rb") as f:
        base = f.read()
    # The rewritten AOF holds AI.TENSORSET <key> <dtype> <dims...> BLOB <data>
    assert base.count(b"AI.TENSORSET") == len(dataset())
    assert b"*7\r\n$12\r\nAI.TENSORSET\r\n$1\r\nf\r\n$5\r\nFLOAT\r\n$1\r\n2\r\n$1\r\n2\r\n$4\r\nBLOB\r\n$16\r\n" in base
    assert dataset()["big"][2] in base
    srv.restart()
    check_dataset(srv.client())


def test_restart_from_plain_aof(server_factory):
    srv = server_factory(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")])
    r = srv.client()
    wait_for(lambda: aof_rewrite_done(r), "initial AOF rewrite")
    write_dataset(r)
    # VALUES and zero-filled forms are logged verbatim too
    r.execute_command("AI.TENSORSET", "v", "FLOAT", 2, "VALUES", 2.5, 3)
    r.execute_command("AI.TENSORSET", "sv", "STRING", 2, "VALUES", "p", "q")
    srv.restart()
    r = srv.client()
    check_dataset(r)
    assert r.execute_command("AI.TENSORGET", "v", "VALUES") == [b"2.5", b"3"]
    assert r.execute_command("AI.TENSORGET", "sv", "VALUES") == [b"p", b"q"]
    incr = b"".join(open(f, "rb").read() for f in aof_files(srv) if ".incr." in f)
    assert b"AI.TENSORSET" in incr


def test_dump_restore(r):
    write_dataset(r)
    for k in dataset():
        payload = r.dump(k)
        assert payload
        assert r.restore("copy:" + k, 0, payload) == b"OK"
    check_dataset(r, prefix="copy:")
    r.delete(*dataset())
    check_dataset(r, prefix="copy:")


def test_restore_rejects_corrupt_payload(r):
    r.execute_command("AI.TENSORSET", "t", "FLOAT", 2, "VALUES", 1, 2)
    payload = bytearray(r.dump("t"))
    payload[12] ^= 0xFF
    with pytest.raises(Exception):
        r.restore("bad", 0, bytes(payload))
    assert r.exists("bad") == 0
    assert r.ping()


def test_replica_receives_tensors_before_and_after_connect(server_factory):
    master = server_factory(tcp=True)
    m = master.client()
    write_dataset(m, prefix="pre:")
    replica = server_factory(config=[("replicaof", "127.0.0.1", master.port)])
    rr = replica.client()
    wait_for(lambda: info_field(rr, "replication", "master_link_status") == "up", "replica link")
    write_dataset(m, prefix="post:")
    m.execute_command("AI.TENSORSET", "post:sv", "STRING", 3, "VALUES", "a", "", "ccc")
    m.execute_command("AI.TENSORSET", "post:zero", "STRING", 2)
    m.execute_command("AI.TENSORSET", "pre:f", "INT8", 1, "VALUES", 9)  # overwrite
    m.delete("pre:z")
    m.set("marker", "done")
    wait_for(lambda: rr.get("marker") == b"done", "replication of the writes")
    check_dataset(rr, prefix="post:")
    pre = {k: v for k, v in dataset().items() if k not in ("f", "z")}
    for k, (dt, dims, blob) in pre.items():
        assert rr.execute_command("AI.TENSORGET", "pre:" + k, "META", "BLOB") == [
            b"dtype", dt.encode(), b"shape", dims, b"blob", blob]
    assert rr.execute_command("AI.TENSORGET", "pre:f", "VALUES") == [9]
    assert rr.exists("pre:z") == 0
    assert rr.execute_command("AI.TENSORGET", "post:sv", "VALUES") == [b"a", b"", b"ccc"]
    assert rr.execute_command("AI.TENSORGET", "post:zero", "BLOB") == b"\0\0"
    # the replica is read-only
    with pytest.raises(Exception, match="read only replica"):
        rr.execute_command("AI.TENSORSET", "x", "FLOAT", 1)
