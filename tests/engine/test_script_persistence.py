"""Scripts survive: DEBUG RELOAD, RDB and AOF restarts, DUMP/RESTORE (also of
the older encodings v0-v3, written here byte by byte), and replication
(spec §5.3, §5.4)."""
import glob
import os
import struct

import pytest

from script_helpers import ENTRY_POINTS, SOURCE, floats, needs_torch, set_floats, store
from tensor_helpers import RawClient, info_field, wait_for

pytestmark = needs_torch

SMALL = "def twice(tensors: List[Tensor], keys: List[str], args: List[str]):\n    return tensors[0] * 2\n"


def write_scripts(r, prefix=""):
    assert store(r, key=prefix + "s", tag="v1") == b"OK"
    assert store(r, key=prefix + "small", entry_points=["twice"], source=SMALL) == b"OK"
    assert r.execute_command("AI.SCRIPTSET", prefix + "legacy", "CPU", "TAG", "old", "SOURCE", SOURCE) == b"OK"


def check_scripts(r, prefix=""):
    assert r.execute_command("AI.SCRIPTGET", prefix + "s") == [
        b"device", b"CPU", b"tag", b"v1", b"Entry Points", [e.encode() for e in ENTRY_POINTS],
        b"source", SOURCE.encode()]
    assert r.execute_command("AI.SCRIPTGET", prefix + "small") == [
        b"device", b"CPU", b"tag", b"", b"Entry Points", [b"twice"], b"source", SMALL.encode()]
    assert r.execute_command("AI.SCRIPTGET", prefix + "legacy", "META") == [
        b"device", b"CPU", b"tag", b"old", b"Entry Points", []]
    for k in ("s", "small", "legacy"):
        assert r.type(prefix + k) == b"AI_SCRIPT"
        assert r.execute_command("AI.INFO", prefix + k)[:4] == [b"key", (prefix + k).encode(), b"type", b"SCRIPT"]
    # the reloaded scripts run
    set_floats(r, "p_in", [1.5, 2])
    r.execute_command("AI.SCRIPTEXECUTE", prefix + "s", "mul", "INPUTS", 2, "p_in", "p_in", "OUTPUTS", 1, "p_out")
    assert floats(r, "p_out") == [2.25, 4]
    r.execute_command("AI.SCRIPTEXECUTE", prefix + "small", "twice", "INPUTS", 1, "p_in", "OUTPUTS", 1, "p_out")
    assert floats(r, "p_out") == [3, 4]
    r.execute_command("AI.SCRIPTRUN", prefix + "legacy", "old_add", "INPUTS", "p_in", "p_in", "OUTPUTS", "p_out")
    assert floats(r, "p_out") == [3, 4]
    r.delete("p_in", "p_out")


def test_debug_reload(r):
    write_scripts(r)
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    check_scripts(r)
    assert sorted(r.execute_command("AI._SCRIPTSCAN")) == [[b"legacy", b"old"], [b"s", b"v1"], [b"small", b""]]


def test_restart_from_rdb(engine):
    r = engine.client()
    write_scripts(r)
    assert r.save()
    engine.restart()
    r = engine.client()
    check_scripts(r)
    assert r.dbsize() == 3


def aof_files(srv):
    return sorted(glob.glob(os.path.join(srv.dir, "appendonlydir", "*")))


def aof_rewrite_done(r):
    return (info_field(r, "persistence", "aof_rewrite_in_progress") in ("0", 0)
            and info_field(r, "persistence", "aof_rewrite_scheduled") in ("0", 0))


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def test_aof_rewrite_without_rdb_preamble(server_factory):
    srv = server_factory(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")])
    r = srv.client()
    write_scripts(r)
    wait_for(lambda: aof_rewrite_done(r), "initial AOF rewrite")
    r.bgrewriteaof()
    wait_for(lambda: aof_rewrite_done(r) and info_field(r, "persistence", "aof_last_bgrewrite_status") == "ok",
             "BGREWRITEAOF")
    [base] = [f for f in aof_files(srv) if ".base." in f]
    with open(base, "rb") as f:
        data = f.read()
    assert resp("AI.SCRIPTSTORE", "small", "CPU", "TAG", "", "ENTRY_POINTS", "1", "twice", "SOURCE", SMALL) in data
    assert resp("AI.SCRIPTSTORE", "s", "CPU", "TAG", "v1", "ENTRY_POINTS", str(len(ENTRY_POINTS)), *ENTRY_POINTS,
                "SOURCE", SOURCE) in data
    # no entry points: ENTRY_POINTS 0 would be refused on replay
    assert resp("AI.SCRIPTSET", "legacy", "CPU", "TAG", "old", "SOURCE", SOURCE) in data
    srv.restart()
    check_scripts(srv.client())


def test_restart_from_plain_aof(server_factory):
    # appendfsync always: with everysec, Redis may hold the AOF write back
    # while a background fsync runs, and the read below would miss writes.
    srv = server_factory(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no"),
                                 ("appendfsync", "always")])
    r = srv.client()
    wait_for(lambda: aof_rewrite_done(r), "initial AOF rewrite")
    write_scripts(r)
    store(r, key="gone")
    r.execute_command("AI.SCRIPTDEL", "gone")
    set_floats(r, "x", [1, 2])
    r.execute_command("AI.SCRIPTEXECUTE", "s", "split", "INPUTS", 1, "x", "OUTPUTS", 2, "up", "down")
    incr = b"".join(open(f, "rb").read() for f in aof_files(srv) if ".incr." in f)
    # outputs are logged as tensors, not as a script call to run again
    assert b"AI.SCRIPTEXECUTE" not in incr and incr.count(b"AI.TENSORSET") == 3
    srv.restart()
    r = srv.client()
    check_scripts(r)
    assert r.exists("gone") == 0
    assert floats(r, "up") == [2, 3] and floats(r, "down") == [0, 1]


def test_dump_restore(r):
    write_scripts(r)
    for k in ("s", "small", "legacy"):
        assert r.restore("copy:" + k, 0, r.dump(k)) == b"OK"
    r.delete("s", "small", "legacy")
    check_scripts(r, prefix="copy:")


# ---- older encodings, built here: DUMP payload = type 7 (module, v2 opcodes),
# module id, the values, EOF opcode, RDB version, CRC64 ----

CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def crc64(data, crc=0):
    """Redis's CRC-64 (Jones polynomial, reflected)."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x95AC9329AC4BC9B5 if crc & 1 else 0)
    return crc


def rdb_len(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def module_id(name, encver):
    mid = 0
    for c in name:
        mid = (mid << 6) | CHARSET.index(c)
    return (mid << 10) | encver


def payload(encver, items, rdb_version=10):
    """items: ("s", bytes) for a string, ("u", int) for an unsigned."""
    body = bytes([7]) + rdb_len(module_id("AI_SCRIPT", encver))
    for kind, v in items:
        body += rdb_len(5) + rdb_len(len(v)) + v if kind == "s" else rdb_len(2) + rdb_len(v)
    body += rdb_len(0) + struct.pack("<H", rdb_version)
    return body + struct.pack("<Q", crc64(body))


def test_crc64_matches_the_servers(r):
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    store(r, key="small", entry_points=["twice"], source=SMALL)
    r.config_set("rdbcompression", "no")  # the source as plain bytes, as built here
    dump = r.dump("small")
    assert struct.unpack("<Q", dump[-8:])[0] == crc64(dump[:-8])
    # the v4 payload built here is the server's own
    items = [("s", b"CPU\0"), ("s", b""), ("s", SMALL.encode() + b"\0"), ("u", 1), ("s", b"twice\0")]
    rdb_version = struct.unpack("<H", dump[-10:-8])[0]
    assert payload(4, items, rdb_version) == dump


OLD = {
    # v3: the v4 layout (entry points came with v3)
    3: [("s", b"CPU\0"), ("s", b"t3"), ("s", SMALL.encode() + b"\0"), ("u", 1), ("s", b"twice\0")],
    # v1, v2: no entry points
    2: [("s", b"CPU\0"), ("s", b"t2"), ("s", SMALL.encode() + b"\0")],
    1: [("s", b"CPU\0"), ("s", b""), ("s", SMALL.encode() + b"\0")],
    # v0: the tag was a C string
    0: [("s", b"CPU\0"), ("s", b"t0\0"), ("s", SMALL.encode() + b"\0")],
}


@pytest.mark.parametrize("encver", sorted(OLD))
def test_restore_older_encodings(r, encver):
    assert r.restore("old", 0, payload(encver, OLD[encver])) == b"OK"
    meta = r.execute_command("AI.SCRIPTGET", "old")
    tag = {3: b"t3", 2: b"t2", 1: b"", 0: b"t0"}[encver]
    entries = [b"twice"] if encver == 3 else []
    assert meta == [b"device", b"CPU", b"tag", tag, b"Entry Points", entries, b"source", SMALL.encode()]
    set_floats(r, "x", [1, 2])
    r.execute_command("AI.SCRIPTEXECUTE", "old", "twice", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    assert floats(r, "y") == [2, 4]
    # saved again in the current encoding
    assert r.restore("again", 0, r.dump("old")) == b"OK"
    assert r.execute_command("AI.SCRIPTGET", "again") == meta


def test_restore_refuses_bad_payloads(r):
    good = [("s", b"CPU\0"), ("s", b""), ("s", SMALL.encode() + b"\0"), ("u", 1), ("s", b"twice\0")]
    with pytest.raises(Exception):
        r.restore("k", 0, payload(5, good))  # a newer encoding
    bad_source = [("s", b"CPU\0"), ("s", b""), ("s", b"def (:\0"), ("u", 0)]
    with pytest.raises(Exception):
        r.restore("k", 0, payload(4, bad_source))
    no_entry = [("s", b"CPU\0"), ("s", b""), ("s", SMALL.encode() + b"\0"), ("u", 1), ("s", b"nope\0")]
    with pytest.raises(Exception):
        r.restore("k", 0, payload(4, no_entry))
    truncated = [("s", b"CPU\0"), ("s", b""), ("s", SMALL.encode() + b"\0"), ("u", 2), ("s", b"twice\0")]
    with pytest.raises(Exception):
        r.restore("k", 0, payload(4, truncated))  # two entry points announced, one saved
    wrong_kind = [("s", b"CPU\0"), ("u", 7), ("s", SMALL.encode() + b"\0"), ("u", 0)]
    with pytest.raises(Exception):
        r.restore("k", 0, payload(4, wrong_kind))  # a number where the tag should be
    assert r.exists("k") == 0
    assert r.ping()


def test_replica_receives_scripts_and_outputs(server_factory):
    master = server_factory(tcp=True)
    m = master.client()
    write_scripts(m, prefix="pre:")
    replica = server_factory(config=[("replicaof", "127.0.0.1", master.port)])
    rr = replica.client()
    wait_for(lambda: info_field(rr, "replication", "master_link_status") == "up", "replica link")
    write_scripts(m, prefix="post:")
    store(m, key="pre:small", tag="replaced", entry_points=["twice"], source=SMALL)
    m.execute_command("AI.SCRIPTDEL", "pre:legacy")
    set_floats(m, "x", [3, 4])
    m.execute_command("AI.SCRIPTEXECUTE", "post:s", "split", "INPUTS", 1, "x", "OUTPUTS", 2, "up", "down")
    m.set("marker", "done")
    wait_for(lambda: rr.get("marker") == b"done", "replication of the writes")
    assert rr.execute_command("AI.SCRIPTGET", "post:s") == m.execute_command("AI.SCRIPTGET", "post:s")
    assert rr.execute_command("AI.SCRIPTGET", "post:legacy", "META")[3] == b"old"
    assert rr.execute_command("AI.SCRIPTGET", "pre:s", "SOURCE") == SOURCE.encode()
    assert rr.execute_command("AI.SCRIPTGET", "pre:small", "META")[3] == b"replaced"
    assert rr.exists("pre:legacy") == 0
    assert floats(rr, "up") == [4, 5] and floats(rr, "down") == [2, 3]
    assert rr.execute_command("AI.INFO", "post:small")[3] == b"SCRIPT"
    raw = RawClient(replica.sock)
    assert raw.error("AI.SCRIPTEXECUTE", "post:s", "split", "INPUTS", 1, "x", "OUTPUTS", 2, "a", "b").startswith(
        b"READONLY")
    raw.close()
