"""Models of every backend survive: DEBUG RELOAD, RDB and AOF restarts,
DUMP/RESTORE, and reach a replica together with the outputs of their runs
(spec §4.2, §5.3, §5.4)."""
import glob
import os

import numpy as np
import pytest

import model_cases as mc
from support.server import ENGINE
from tensor_helpers import encode, info_field, wait_for

import models  # noqa: E402  (tests/backends, put on the path by model_cases)

OPTIONS = ["BATCHSIZE", 4, "MINBATCHSIZE", 2, "MINBATCHTIMEOUT", 9]


@pytest.fixture(scope="module")
def cases():
    return {b: mc.case(b) for b in mc.BACKENDS}


def write_models(r, cases, prefix=""):
    """Stores one model per backend plus two more ONNX graphs (one through
    the deprecated AI.MODELSET); returns key -> AI.MODELGET reply."""
    for b, c in cases.items():
        assert r.execute_command(*c.store_cmd(prefix + b, "TAG", "tag-" + b, *OPTIONS)) == b"OK"
    r.execute_command("AI.MODELSTORE", prefix + "cnn", "ONNX", "CPU", "BLOB", models.conv_net())
    r.execute_command("AI.MODELSET", prefix + "sp", "ONNX", "CPU", "TAG", "set", "BLOB", models.two_in_two_out())
    r.execute_command("AI.MODELSTORE", prefix + "str", "ONNX", "CPU:1", "BLOB", models.string_identity())
    keys = [prefix + b for b in cases] + [prefix + k for k in ("cnn", "sp", "str")]
    return {k: r.execute_command("AI.MODELGET", k) for k in keys}


def check_models(r, cases, expected, prefix=""):
    """Every model is back as stored, has its AI.INFO entry, and runs."""
    for k, reply in expected.items():
        assert r.execute_command("AI.MODELGET", k) == reply, k
        assert r.type(k) == b"AI__MODEL"
        assert mc.meta(r.execute_command("AI.INFO", k))["key"] == k.encode()
    for b, c in cases.items():
        ins = c.set_inputs(r, prefix="in_" + b)
        out = ["out_%s_%d" % (b, i) for i in range(len(c.outputs))]
        assert r.execute_command(*c.execute_cmd(prefix + b, ins, out)) == b"OK"
        c.check_outputs(r, out)
    r.execute_command("AI.TENSORSET", "ia", "INT64", 2, "VALUES", 3, 4)
    r.execute_command("AI.MODELEXECUTE", prefix + "sp", "INPUTS", 2, "ia", "ia", "OUTPUTS", 2, "s", "p")
    assert r.execute_command("AI.TENSORGET", "p", "VALUES") == [9, 16]
    r.execute_command("AI.TENSORSET", "words", "STRING", 2, "VALUES", "ab", "")
    r.execute_command("AI.MODELEXECUTE", prefix + "str", "INPUTS", 1, "words", "OUTPUTS", 1, "same")
    assert r.execute_command("AI.TENSORGET", "same", "VALUES") == [b"ab", b""]


def test_debug_reload(engine, cases):
    r = engine.client()
    expected = write_models(r, cases)
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"
    check_models(r, cases, expected)


def test_restart_from_rdb_in_small_chunks(server_factory, cases):
    """Saved in 300-byte chunks, loaded by a server with the default size."""
    srv = server_factory(modules=[(ENGINE, ["MODEL_CHUNK_SIZE", 300])])
    r = srv.client()
    expected = write_models(r, cases)
    expected = {k: v[:-1] + [b"".join(v[-1]) if isinstance(v[-1], list) else v[-1]] for k, v in expected.items()}
    assert r.save()
    srv.modules = [(ENGINE, [])]
    srv.restart()
    r = srv.client()
    check_models(r, cases, expected)
    assert sorted(r.execute_command("AI._MODELSCAN")) == sorted([[k.encode(), v[5]] for k, v in expected.items()])


def aof_files(srv):
    return sorted(glob.glob(os.path.join(srv.dir, "appendonlydir", "*")))


def aof_rewrite_done(r):
    return (info_field(r, "persistence", "aof_rewrite_in_progress") in ("0", 0)
            and info_field(r, "persistence", "aof_rewrite_scheduled") in ("0", 0))


def test_aof_rewrite_without_rdb_preamble(server_factory, cases):
    srv = server_factory(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")])
    r = srv.client()
    wait_for(lambda: aof_rewrite_done(r), "initial AOF rewrite")
    expected = write_models(r, cases)
    r.bgrewriteaof()
    wait_for(lambda: aof_rewrite_done(r) and info_field(r, "persistence", "aof_last_bgrewrite_status") == "ok",
             "BGREWRITEAOF")
    (base,) = [f for f in aof_files(srv) if ".base." in f]
    with open(base, "rb") as f:
        data = f.read()
    # The rewrite holds AI.MODELSTORE <key> <backend> <device> TAG .. BATCHSIZE ..
    # MINBATCHSIZE .. MINBATCHTIMEOUT .. [INPUTS/OUTPUTS (TF only)] BLOB <blob>
    assert data.count(b"AI.MODELSTORE") == len(expected)
    for b, c in cases.items():
        args = [b, b, "CPU", "TAG", "tag-" + b, *OPTIONS, *c.names, "BLOB", c.blob]
        assert encode(["AI.MODELSTORE", *args]) in data, b
    assert encode(["AI.MODELSTORE", "sp", "ONNX", "CPU", "TAG", "set", "BATCHSIZE", 0, "MINBATCHSIZE", 0,
                   "MINBATCHTIMEOUT", 0, "BLOB", models.two_in_two_out()]) in data
    srv.restart()
    check_models(srv.client(), cases, expected)


def test_tf_model_without_names_survives_an_aof_rewrite(server_factory):
    """A TF model with no INPUTS / OUTPUTS names (restored from an RDB v0
    value) is rewritten as INPUTS 0 OUTPUTS 0, which only the AOF replay
    accepts: it was lost on restart (MODELSTORE refused the count)."""
    from test_model_restore import TF, old_model_value
    srv = server_factory(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")])
    r = srv.client()
    wait_for(lambda: aof_rewrite_done(r), "initial AOF rewrite")
    assert r.restore("m", 0, old_model_value(mc.tf_graph("mul"), 0, backend=TF, inputs=(), outputs=())) == b"OK"
    expected = r.execute_command("AI.MODELGET", "m", "META")
    r.bgrewriteaof()
    wait_for(lambda: aof_rewrite_done(r) and info_field(r, "persistence", "aof_last_bgrewrite_status") == "ok",
             "BGREWRITEAOF")
    srv.restart()
    r = srv.client()
    assert r.execute_command("AI.MODELGET", "m", "META") == expected
    with pytest.raises(Exception, match="^Invalid argument for input_count$"):  # outside a replay: refused
        r.execute_command("AI.MODELSTORE", "n", "TF", "CPU", "INPUTS", 0, "OUTPUTS", 0, "BLOB", mc.tf_graph("mul"))


def test_plain_aof_replay(server_factory, cases):
    """Writes are logged as sent (MODELSTORE, MODELSET, MODELDEL) and run
    outputs as AI.TENSORSET; replaying the log rebuilds the same data."""
    # appendfsync always: with everysec, Redis may hold the AOF write back
    # for up to 2 s while a background fsync runs, and the file read below
    # would miss the last writes.
    srv = server_factory(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no"),
                                 ("appendfsync", "always")])
    r = srv.client()
    wait_for(lambda: aof_rewrite_done(r), "initial AOF rewrite")
    expected = write_models(r, cases)
    r.execute_command("AI.MODELSTORE", "gone", "ONNX", "CPU", "BLOB", models.linear())
    r.execute_command("AI.MODELDEL", "gone")
    x = np.random.default_rng(4).standard_normal((3, 1, 8, 8)).astype(np.float32)
    r.execute_command("AI.TENSORSET", "img", "FLOAT", 3, 1, 8, 8, "BLOB", x.tobytes())
    r.execute_command("AI.MODELEXECUTE", "cnn", "INPUTS", 1, "img", "OUTPUTS", 1, "probs")
    r.execute_command("AI.MODELRUN", "cnn", "INPUTS", "img", "OUTPUTS", "probs2")
    probs = r.execute_command("AI.TENSORGET", "probs", "BLOB")
    incr = b"".join(open(f, "rb").read() for f in aof_files(srv) if ".incr." in f)
    assert b"AI.MODELSET" in incr and b"AI.MODELDEL" in incr
    assert b"AI.MODELEXECUTE" not in incr and b"AI.MODELRUN" not in incr
    assert incr.count(b"AI.TENSORSET") == 3
    srv.restart()
    r = srv.client()
    assert r.exists("gone") == 0
    assert r.execute_command("AI.TENSORGET", "probs", "BLOB") == probs
    assert r.execute_command("AI.TENSORGET", "probs2", "BLOB") == probs
    check_models(r, cases, expected)


def test_dump_restore(engine, cases):
    r = engine.client()
    expected = write_models(r, cases)
    for k in expected:
        assert r.restore("copy:" + k, 0, r.dump(k)) == b"OK"
    r.delete(*expected)
    check_models(r, cases, {"copy:" + k: v for k, v in expected.items()}, prefix="copy:")


def test_restore_rejects_corrupt_model(engine):
    r = engine.client()
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.linear())
    payload = bytearray(r.dump("m"))
    payload[len(payload) // 2] ^= 0xFF
    with pytest.raises(Exception):
        r.restore("bad", 0, bytes(payload))
    assert r.exists("bad") == 0 and engine.alive()


def test_replication_of_models_and_outputs(server_factory, cases):
    master = server_factory(tcp=True)
    m = master.client()
    expected = write_models(m, cases, prefix="pre")
    replica = server_factory(config=[("replicaof", "127.0.0.1", master.port)])
    rr = replica.client()
    wait_for(lambda: info_field(rr, "replication", "master_link_status") == "up", "replica link")
    expected.update(write_models(m, cases, prefix="post"))
    check_models(m, cases, expected, prefix="post")
    m.execute_command("AI.MODELSTORE", "gone", "ONNX", "CPU", "BLOB", models.linear())
    m.execute_command("AI.MODELDEL", "gone")
    for b, c in cases.items():
        ins = c.set_inputs(m, prefix="x" + b)
        out = ["y%s%d" % (b, i) for i in range(len(c.outputs))]
        m.execute_command(*c.execute_cmd("post" + b, ins, out))
        m.execute_command("AI.MODELRUN", "pre" + b, "INPUTS", *ins, "OUTPUTS", *["old" + o for o in out])
    m.set("marker", "done")
    wait_for(lambda: rr.get("marker") == b"done", "replication of the writes")
    for k, reply in expected.items():
        assert rr.execute_command("AI.MODELGET", k) == reply, k
        assert mc.meta(rr.execute_command("AI.INFO", k))["tag"] == reply[5]
    assert rr.exists("gone") == 0
    for b, c in cases.items():
        out = ["y%s%d" % (b, i) for i in range(len(c.outputs))]
        c.check_outputs(rr, out)
        c.check_outputs(rr, ["old" + o for o in out])
    stats = rr.info("commandstats")
    assert "cmdstat_ai.tensorset" in stats
    assert "cmdstat_ai.modelexecute" not in stats and "cmdstat_ai.modelrun" not in stats
    with pytest.raises(Exception, match="read only replica"):
        rr.execute_command("AI.MODELSTORE", "x", "ONNX", "CPU", "BLOB", models.linear())
