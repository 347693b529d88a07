"""AI__MODEL values restored from hand-built DUMP payloads (v4 layout of the
spec): a good one loads and runs; corrupt ones are refused with an error and
leave the server up and the key absent."""
import numpy as np
import pytest

from backends import models
from rdb_payload import Writer

TF = 0
ONNX = 3


def model_value(blob, chunks=None, total=None, ninputs=None, nchunks=None, tag_as_number=False,
                backend=ONNX, device=b"CPU\0", batch=(0, 0, 0), names=(b"x\0", b"y\0"), trailing=False):
    w = Writer("AI__MODEL", 4)
    w.uint(backend).string(device)
    if tag_as_number:
        w.uint(7)
    else:
        w.string(b"restored")
    for v in batch:                           # batchsize, minbatchsize, minbatchtimeout
        w.uint(v)
    w.uint(1 if ninputs is None else ninputs).string(names[0])
    w.uint(1).string(names[1])
    chunks = [blob] if chunks is None else chunks
    w.uint(len(blob) if total is None else total)
    w.uint(len(chunks) if nchunks is None else nchunks)
    for c in chunks:
        w.string(c)
    if trailing:  # a field more than the layout has: our loader is done before it, Redis then refuses the value
        w.uint(1)
    return w.payload()


def test_hand_built_model_restores_and_runs(r):
    blob = models.linear()
    half = len(blob) // 2
    assert r.restore("m", 0, model_value(blob, chunks=[blob[:half], blob[half:]])) == b"OK"
    meta = r.execute_command("AI.MODELGET", "m", "META")
    assert meta[:6] == [b"backend", b"ONNX", b"device", b"CPU", b"tag", b"restored"]
    x = np.array([[1, 2, 3]], dtype=np.float32)
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "BLOB", x.tobytes())
    r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    y = np.frombuffer(r.execute_command("AI.TENSORGET", "y", "BLOB"), dtype=np.float32)
    assert y.tolist() == (x @ models.LINEAR_W + models.LINEAR_B).ravel().tolist()


@pytest.mark.parametrize("case", [
    dict(tag_as_number=True),                 # a number where the tag string should be
    dict(nchunks=2),                          # two chunks announced, one saved
    dict(total=10**6),                        # total larger than the chunks
    dict(total=2**50),                        # absurd total: no huge allocation
    dict(ninputs=2**40),                      # absurd name count: no huge allocation
    dict(chunks=[b"not an onnx model"]),      # the backend refuses the blob
    dict(backend=2**32 + ONNX),               # was cut to 32 bits: loaded as ONNX
    dict(batch=(2**63, 0, 0)),                # read back as -1; an AOF rewrite then lost the model
    dict(batch=(4, 2, 2**64 - 1)),
])
def test_corrupt_model_payloads_are_refused(r, case):
    blob = case.pop("chunks", [models.linear()])
    value = model_value(blob[0], chunks=blob, **case)
    with pytest.raises(Exception):
        r.restore("bad", 0, value)
    assert r.exists("bad") == 0
    assert r.ping()


def test_strings_without_their_nul_load_as_written(r):
    # RedisAI writes the device and the names with a NUL; a payload without
    # it was read past its end (heap bytes showed up in the device and names).
    # (8 bytes: a whole allocation class, so the old read ran into the next one)
    value = model_value(models.linear(), device=b"CPU:0000", names=(b"x", b"y"))
    assert r.restore("m", 0, value) == b"OK"
    assert r.execute_command("AI.MODELGET", "m", "META")[2:4] == [b"device", b"CPU:0000"]


def test_a_refused_restore_keeps_the_stored_models_run_info(r):
    # The refused value's AI.INFO entry replaced the stored model's, then
    # went with it: the model ran on with no entry (found by fuzzing).
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "TAG", "orig", "BLOB", models.linear())
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
    r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    with pytest.raises(Exception, match="Bad data format"):
        r.restore("m", 0, model_value(models.linear(), trailing=True), replace=True)
    r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    info = r.execute_command("AI.INFO", "m")
    assert info[info.index(b"calls") + 1] == 2 and info[info.index(b"tag") + 1] == b"orig"
    assert r.execute_command("AI._MODELSCAN") == [[b"m", b"orig"]]
    assert r.restore("m", 0, model_value(models.linear()), replace=True) == b"OK"  # a good one replaces it
    info = r.execute_command("AI.INFO", "m")
    assert info[info.index(b"calls") + 1] == 0 and info[info.index(b"tag") + 1] == b"restored"
    assert r.execute_command("AI._MODELSCAN") == [[b"m", b"restored"]]


def old_model_value(blob, encver, batch=(4, 2, 7), backend=ONNX, inputs=(b"x\0",), outputs=(b"y\0",)):
    """A model in the older encodings of spec 5.3: v0 has the tag as a C
    string and the blob in one piece; v0 and v1 have no MINBATCHTIMEOUT;
    v2 and v3 are laid out as v4."""
    w = Writer("AI__MODEL", encver)
    w.uint(backend).string(b"CPU\0")
    w.string(b"old\0" if encver == 0 else b"old")
    for v in batch[:3 if encver >= 2 else 2]:
        w.uint(v)
    for names in (inputs, outputs):
        w.uint(len(names))
        for name in names:
            w.string(name)
    if encver == 0:
        w.string(blob)
    else:
        half = len(blob) // 2
        w.uint(len(blob)).uint(2).string(blob[:half]).string(blob[half:])
    return w.payload()


@pytest.mark.parametrize("encver", [0, 1, 2, 3])
def test_models_of_older_encodings_load(r, encver):
    # RedisAI 1.2.7 loads its own older RDB values; they were refused here.
    assert r.restore("m", 0, old_model_value(models.linear(), encver)) == b"OK"
    meta = r.execute_command("AI.MODELGET", "m", "META")
    got = dict(zip(meta[::2], meta[1::2]))
    assert (got[b"backend"], got[b"device"], got[b"tag"]) == (b"ONNX", b"CPU", b"old")
    assert (got[b"batchsize"], got[b"minbatchsize"]) == (4, 2)
    assert got[b"minbatchtimeout"] == (7 if encver >= 2 else 0)
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
    r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    y = np.frombuffer(r.execute_command("AI.TENSORGET", "y", "BLOB"), dtype=np.float32)
    assert y.tolist() == (np.array([[1, 2, 3]], np.float32) @ models.LINEAR_W + models.LINEAR_B).ravel().tolist()
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"  # and is written back as v4
    assert r.execute_command("AI.MODELGET", "m", "META") == meta


@pytest.mark.parametrize("encver", [0, 4])
def test_tf_models_without_input_and_output_names_load(r, encver):
    """RedisAI's v0 values of TF graphs carry no INPUTS / OUTPUTS names, and
    1.2.7 loads them (spec 5.3); the TF backend refused them."""
    import model_cases as mc
    value = old_model_value(mc.tf_graph("mul"), encver, backend=TF, inputs=(), outputs=())
    assert r.restore("m", 0, value) == b"OK"
    meta = mc.meta(r.execute_command("AI.MODELGET", "m", "META"))
    assert (meta["backend"], meta["inputs"], meta["outputs"]) == (b"TF", [], [])
    assert r.execute_command("DEBUG", "RELOAD") == b"OK"  # written back as v4, loads again
    assert mc.meta(r.execute_command("AI.MODELGET", "m", "META"))["inputs"] == []
    # a run names no graph node: TF's error comes back, the server stays up
    r.execute_command("AI.TENSORSET", "a", "FLOAT", 1, "VALUES", 2)
    with pytest.raises(Exception, match="^Number of names given as INPUTS during MODELSET and keys given as "
                                        "INPUTS here do not match$"):
        r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "a", "OUTPUTS", 1, "c")
    assert r.exists("c") == 0 and r.ping()


def test_a_restored_minimum_above_the_batch_size_runs_full_batches(engine):
    """MODELSTORE refuses MINBATCHSIZE > BATCHSIZE; a payload may still carry
    it (as the original stored it).  Its runs go as full batches (the
    minimum is capped at BATCHSIZE) instead of waiting for ever."""
    from tensor_helpers import RawClient
    import model_cases as mc
    r = engine.client()
    assert r.restore("m", 0, model_value(mc.onnx_batch_probe(), batch=(2, 4, 0))) == b"OK"
    assert mc.meta(r.execute_command("AI.MODELGET", "m", "META"))["minbatchsize"] == 4
    clients = []
    for i in range(2):
        c = RawClient(engine.sock, timeout=10)
        c.ok("AI.TENSORSET", f"x{i}", "FLOAT", 1, 2, "VALUES", i, i + 1)
        c.send("AI.MODELEXECUTE", "m", "INPUTS", 1, f"x{i}", "OUTPUTS", 2, f"y{i}", f"n{i}")
        clients.append(c)
    for i, c in enumerate(clients):
        assert c.read() == b"OK"
        assert np.frombuffer(r.execute_command("AI.TENSORGET", f"y{i}", "BLOB"), np.float32).tolist() == [2 * i, 2 * i + 2]
        assert np.frombuffer(r.execute_command("AI.TENSORGET", f"n{i}", "BLOB"), np.float32).tolist() == [2.0]
