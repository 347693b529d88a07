"""AI.MODELSTORE / MODELGET / MODELDEL / MODELEXECUTE / _MODELSCAN and the
deprecated AI.MODELSET / MODELRUN: every error text of spec §4.5-§4.9
(exact, as sent), and each backend (ONNX, TORCH, TF) stored, read back and
run on real models.  Persistence, batching and the admin commands have their
own files (test_models_*.py)."""
import time

import numpy as np
import pytest

import model_cases as mc
from support.server import ENGINE, RedisServer
from tensor_helpers import WRONGTYPE, RawClient

import models  # noqa: E402  (tests/backends, put on the path by model_cases)

LIN = models.linear()
EMPTY_MODEL = b"ERR model key is empty"
EMPTY_TENSOR = b"ERR tensor key is empty or in a different shard"
NO_GPU = b"ERR GPU device requested but this build of the engine has no GPU support"


@pytest.fixture(scope="module")
def shared():
    """One server for the error-path tests (each starts from FLUSHALL)."""
    srv = RedisServer(modules=[(ENGINE, [])]).start()
    yield srv
    srv.stop()


@pytest.fixture
def raw(shared):
    c = RawClient(shared.sock)
    c.ok("FLUSHALL")
    yield c
    assert shared.alive()
    c.close()


@pytest.fixture(scope="module", params=mc.BACKENDS)
def case(request):
    return mc.case(request.param)


# ---- AI.MODELSTORE errors -------------------------------------------------

def store_error(raw, *args):
    text = raw.error("AI.MODELSTORE", "m", *args)
    assert raw.call("EXISTS", "m") == 0
    return text


def test_store_arity(raw):
    assert raw.error("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB") == \
        b"ERR wrong number of arguments for 'ai.modelstore' command"


@pytest.mark.parametrize("backend", ["FOO", "ONNXX", "", "TENSORFLOW"])
def test_store_unsupported_backend(raw, backend):
    assert store_error(raw, backend, "CPU", "BLOB", LIN) == b"ERR unsupported backend"


@pytest.mark.parametrize("device", ["TPU", "CPU:", "CPU:x", "CPU:123456", "CPU0", "", "CP", "GPU:1:2", "CPU\0x"])
def test_store_invalid_device(raw, device):
    assert store_error(raw, "ONNX", device, "BLOB", LIN) == b"ERR Invalid DEVICE"


@pytest.mark.parametrize("device", ["CPU", "cpu", "CPU:0", "CPU:12345"])
def test_store_valid_devices(raw, device):
    assert raw.ok("AI.MODELSTORE", "m", "ONNX", device, "BLOB", LIN) == b"OK"
    assert mc.meta(raw.ok("AI.MODELGET", "m", "META"))["device"] == device.encode()


@pytest.mark.parametrize("opts,text", [
    (["BATCHSIZE", "x"], b"ERR Invalid argument for BATCHSIZE"),
    (["BATCHSIZE", -1], b"ERR Invalid argument for BATCHSIZE"),
    (["BATCHSIZE", 2, "MINBATCHSIZE", "x"], b"ERR Invalid argument for MINBATCHSIZE"),
    (["BATCHSIZE", 2, "MINBATCHSIZE", 1, "MINBATCHTIMEOUT", "x"], b"ERR Invalid argument for MINBATCHTIMEOUT"),
    (["MINBATCHSIZE", 2], b"ERR MINBATCHSIZE specified without BATCHSIZE"),
    (["BATCHSIZE", 2, "MINBATCHTIMEOUT", 5], b"ERR MINBATCHTIMEOUT specified without MINBATCHSIZE"),
    # a batch holds at most BATCHSIZE rows: its runs would wait for ever (the original accepts it)
    (["BATCHSIZE", 2, "MINBATCHSIZE", 3], b"ERR MINBATCHSIZE must not exceed BATCHSIZE"),
    (["BATCHSIZE", 2, "MINBATCHSIZE", 3, "MINBATCHTIMEOUT", 5], b"ERR MINBATCHSIZE must not exceed BATCHSIZE"),
    (["TAG", "t", "FOO", "bar"], b"ERR Invalid argument, expected BLOB"),
    (["TAG", "t", "BLOB"], b"ERR Insufficient arguments, missing model BLOB"),
    (["INPUTS", 1, "x", "OUTPUTS", 1, "y"], b"ERR INPUTS argument should not be specified for this backend"),
    (["OUTPUTS", 1, "y"], b"ERR INPUTS argument should not be specified for this backend"),
])
def test_store_option_errors(raw, opts, text):
    tail = [] if opts[-1] == "BLOB" else ["BLOB", LIN]
    assert store_error(raw, "ONNX", "CPU", *opts, *tail) == text


def test_store_torch_refuses_inputs(raw):
    assert store_error(raw, "TORCH", "CPU", "INPUTS", 1, "a", "BLOB", b"x") == \
        b"ERR INPUTS argument should not be specified for this backend"


@pytest.mark.parametrize("names,text", [
    ([], b"ERR INPUTS not specified for TF"),
    (["OUTPUTS", 1, "c"], b"ERR INPUTS not specified for TF"),
    (["INPUTS", 2, "a", "b"], b"ERR OUTPUTS not specified for TF"),
    (["INPUTS", 0, "OUTPUTS", 1, "c"], b"ERR Invalid argument for input_count"),
    (["INPUTS", "two", "a", "b", "OUTPUTS", 1, "c"], b"ERR Invalid argument for input_count"),
    (["INPUTS", 2, "a", "b", "OUTPUTS", 0], b"ERR Invalid argument for output_count"),
    (["INPUTS", 2, "a", "b", "OUTPUTS", -1, "c"], b"ERR Invalid argument for output_count"),
    (["INPUTS", 3, "a", "b", "OUTPUTS", 1, "c"], b"ERR number of model inputs does not match the number of given arguments"),
    (["INPUTS", 2, "a", "b", "OUTPUTS", 2, "c"], b"ERR number of model outputs does not match the number of given arguments"),
    # names run up to the next keyword: more names than the count
    (["INPUTS", 1, "a", "b", "OUTPUTS", 1, "c"], b"ERR number of model inputs does not match the number of given arguments"),
    (["INPUTS", 2, "a", "b", "OUTPUTS", 1, "c", "d"],
     b"ERR number of model outputs does not match the number of given arguments"),
    # counts far past the arguments: the server allocated them first and aborted
    (["INPUTS", 2**63 - 1, "a", "b", "OUTPUTS", 1, "c"],
     b"ERR number of model inputs does not match the number of given arguments"),
    (["INPUTS", 2, "a", "b", "OUTPUTS", 2**60, "c"],
     b"ERR number of model outputs does not match the number of given arguments"),
    (["INPUTS", 1, "a", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c", "OUTPUTS", 9, "c"],
     b"ERR number of model outputs does not match the number of given arguments"),
])
def test_store_tf_names(raw, names, text):
    assert store_error(raw, "TF", "CPU", *names, "BLOB", mc.tf_graph("mul")) == text


def test_store_tflite_cannot_load(raw):
    assert store_error(raw, "TFLITE", "CPU", "BLOB", b"x" * 10) == b"ERR Could not load backend"


@pytest.mark.parametrize("device", ["GPU", "gpu", "GPU:0", "GPU:1"])
def test_store_gpu_device_is_refused(raw, case, device):
    assert raw.error(*case.store_cmd("m", device=device)) == NO_GPU
    assert raw.error("AI.MODELSET", "m", case.backend, device, *[n for n in case.names if not isinstance(n, int)],
                     "BLOB", case.blob) == NO_GPU
    assert raw.call("EXISTS", "m") == 0


def test_store_wrongtype_keeps_value(raw):
    raw.ok("SET", "m", "v")
    assert raw.error("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN) == WRONGTYPE
    assert raw.ok("GET", "m") == b"v"


BAD_BLOB = {"ONNX": b"Failed to load model because protobuf parsing failed.",
            "TORCH": b"PytorchStreamReader failed reading zip archive: failed finding central directory",
            "TF": b"Invalid GraphDef"}


@pytest.mark.parametrize("which", ["random", "truncated"])
def test_bad_blob_is_an_error_and_keeps_old_model(raw, case, which):
    raw.ok(*case.store_cmd("m", "TAG", "old"))
    rng = np.random.default_rng(9)
    blob = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes() if which == "random" else case.blob[:60]
    cmd = case.store_cmd("m", "TAG", "new")
    cmd[-1] = blob
    assert raw.error(*cmd).startswith(BAD_BLOB[case.backend])
    assert raw.ok("AI.MODELGET", "m", "BLOB") == case.blob
    assert mc.meta(raw.ok("AI.MODELGET", "m", "META"))["tag"] == b"old"


# ---- AI.MODELGET / MODELDEL / _MODELSCAN --------------------------------------

def test_modelget_errors(raw):
    assert raw.error("AI.MODELGET") == b"ERR wrong number of arguments for 'ai.modelget' command"
    assert raw.error("AI.MODELGET", "m", "META", "BLOB", "META") == \
        b"ERR wrong number of arguments for 'ai.modelget' command"
    assert raw.error("AI.MODELGET", "m") == EMPTY_MODEL
    raw.ok("AI.TENSORSET", "t", "FLOAT", 1)
    assert raw.error("AI.MODELGET", "t", "META") == WRONGTYPE
    raw.ok("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN)
    assert raw.error("AI.MODELGET", "m", "VALUES") == b"ERR unsupported data format"


def test_modeldel(raw):
    assert raw.error("AI.MODELDEL") == b"ERR wrong number of arguments for 'ai.modeldel' command"
    assert raw.error("AI.MODELDEL", "m", "x") == b"ERR wrong number of arguments for 'ai.modeldel' command"
    assert raw.error("AI.MODELDEL", "m") == EMPTY_MODEL
    raw.ok("AI.TENSORSET", "t", "FLOAT", 1)
    assert raw.error("AI.MODELDEL", "t") == WRONGTYPE
    raw.ok("AI.MODELSTORE", "m", "ONNX", "CPU", "TAG", "x", "BLOB", LIN)
    assert raw.ok("AI.MODELDEL", "m") == b"OK"
    assert raw.call("EXISTS", "m") == 0
    assert raw.error("AI.INFO", "m") == b"ERR cannot find run info for key"
    assert raw.error("AI.MODELDEL", "m") == EMPTY_MODEL


def test_modelscan_lists_keys_and_tags(raw):
    raw.ok("AI.MODELSTORE", "m1", "ONNX", "CPU", "TAG", "first", "BLOB", LIN)
    raw.ok("AI.MODELSTORE", "m2", "ONNX", "CPU", "BLOB", LIN)
    raw.ok("AI.MODELSTORE", "m3", "ONNX", "CPU", "BLOB", LIN)
    raw.ok("AI.MODELDEL", "m3")
    assert sorted(raw.ok("AI._MODELSCAN")) == [[b"m1", b"first"], [b"m2", b""]]
    assert raw.error("AI._MODELSCAN", "x") == b"ERR wrong number of arguments for 'ai._modelscan' command"


def test_deleted_or_flushed_models_leave_no_run_info(raw):
    """DEL, an overwrite with another type and FLUSHALL remove the model, so
    AI.INFO and AI._MODELSCAN must forget it too."""
    for k in ("a", "b", "c"):
        raw.ok("AI.MODELSTORE", k, "ONNX", "CPU", "BLOB", LIN)
    raw.ok("DEL", "a")
    raw.ok("SET", "b", "now a string")
    assert raw.error("AI.INFO", "a") == b"ERR cannot find run info for key"
    assert raw.error("AI.INFO", "b") == b"ERR cannot find run info for key"
    assert raw.ok("AI._MODELSCAN") == [[b"c", b""]]
    raw.ok("FLUSHALL", "SYNC")  # Valkey 8's plain FLUSHALL is lazy (lazyfree-lazy-user-flush yes)
    assert raw.ok("AI._MODELSCAN") == []
    raw.ok("AI.MODELSTORE", "c", "ONNX", "CPU", "BLOB", LIN)
    raw.ok("AI.MODELSTORE", "c", "ONNX", "CPU", "TAG", "v2", "BLOB", LIN)  # replaced: one entry
    assert raw.ok("AI._MODELSCAN") == [[b"c", b"v2"]]


def test_flushall_async_leaves_no_run_info(raw):
    """FLUSHALL ASYNC frees the models on Redis's lazy-free thread; AI.INFO
    and AI._MODELSCAN forget them once that is done."""
    for k in ("a", "b"):
        raw.ok("AI.MODELSTORE", k, "ONNX", "CPU", "BLOB", LIN)
    raw.ok("FLUSHALL", "ASYNC")
    deadline = time.time() + 10
    while raw.ok("AI._MODELSCAN") != []:
        assert time.time() < deadline, raw.ok("AI._MODELSCAN")
        time.sleep(0.01)
    assert raw.error("AI.INFO", "a") == b"ERR cannot find run info for key"
    raw.ok("AI.MODELSTORE", "a", "ONNX", "CPU", "BLOB", LIN)
    assert raw.ok("AI._MODELSCAN") == [[b"a", b""]]


def test_scans_while_flushall_async_frees_models_are_whole_replies(raw, shared):
    """The lazy-free thread may free a model between the moment a scan counts
    the models and the moment it lists them: each reply must still hold as
    many elements as it announced (a short one left the client waiting)."""
    c = RawClient(shared.sock, timeout=10)
    for _ in range(3):
        for k in range(200):
            c.ok("AI.MODELSTORE", f"m{k}", "ONNX", "CPU", "BLOB", LIN)
        c.ok("FLUSHALL", "ASYNC")
        deadline = time.time() + 30
        while (scan := c.ok("AI._MODELSCAN")) != []:
            assert all(len(entry) == 2 for entry in scan)
            assert time.time() < deadline
    c.close()


# ---- AI.MODELEXECUTE errors, in the order of spec §4.8 ---------------------------

@pytest.fixture
def ex(raw):
    """`m`: linear (1 in, 1 out); `sp`: 2 in, 2 out; tensor `x` fits `m`."""
    raw.ok("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN)
    raw.ok("AI.MODELSTORE", "sp", "ONNX", "CPU", "BLOB", models.two_in_two_out())
    raw.ok("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
    raw.ok("AI.TENSORSET", "i", "INT64", 2, "VALUES", 1, 2)
    return raw


MISMATCH_IN = b"Number of keys given as INPUTS here does not match model definition"
MISMATCH_OUT = b"Number of keys given as OUTPUTS here does not match model definition"


@pytest.mark.parametrize("args,text", [
    (["m", "INPUTS", 1, "x", "OUTPUTS", 1], b"ERR wrong number of arguments for 'AI.MODELEXECUTE' command"),
    (["nokey", "INPUTS", 1, "x", "OUTPUTS", 1, "y"], EMPTY_MODEL),
    (["x", "INPUTS", 1, "x", "OUTPUTS", 1, "y"], WRONGTYPE),
    (["nokey", "FOO", 1, "x", "OUTPUTS", 1, "y"], EMPTY_MODEL),
    (["m", "FOO", 1, "x", "OUTPUTS", 1, "y"], b"ERR INPUTS not specified"),
    (["m", "INPUTS", "one", "x", "OUTPUTS", 1, "y"], b"ERR Invalid argument for input_count"),
    (["m", "INPUTS", 0, "x", "OUTPUTS", 1, "y"], b"ERR Input count must be a positive integer"),
    (["m", "INPUTS", -1, "x", "OUTPUTS", 1, "y"], b"ERR Input count must be a positive integer"),
    (["m", "INPUTS", 2, "x", "x", "OUTPUTS", 1, "y"], MISMATCH_IN),
    (["m", "INPUTS", 2, "nox", "x", "OUTPUTS", 1, "y"], MISMATCH_IN),
    (["sp", "INPUTS", 2, "i", "OUTPUTS", 2, "s", "p"],
     b"ERR number of input keys to AI.MODELEXECUTE command does not match the number of given arguments"),
    (["m", "INPUTS", 1, "nox", "OUTPUTS", 1, "y"], EMPTY_TENSOR),
    (["m", "INPUTS", 1, "nox", "FOO", 1, "y"], b"ERR OUTPUTS not specified"),  # syntax before keys
    (["m", "INPUTS", 1, "m", "OUTPUTS", 1, "y"], WRONGTYPE),
    (["m", "INPUTS", 1, "x", "FOO", 1, "y"], b"ERR OUTPUTS not specified"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 0, "y"], b"ERR Output count must be a positive integer"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", -2, "y"], b"ERR Output count must be a positive integer"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 2, "y", "z"], MISMATCH_OUT),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 2, "y", "z", "TIMEOUT", 0], MISMATCH_OUT),
    (["sp", "INPUTS", 2, "i", "i", "OUTPUTS", 2, "s"],
     b"ERR number of output keys to AI.MODELEXECUTE command does not match the number of given arguments"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "TIMEOUT"], b"ERR No value provided for TIMEOUT"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "TIMEOUT", 0], b"ERR Invalid value for TIMEOUT"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "TIMEOUT", -5], b"ERR Invalid value for TIMEOUT"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "TIMEOUT", "soon"], b"ERR Invalid value for TIMEOUT"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "FOO"], b"Invalid argument: FOO"),
    (["m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "TIMEOUT", 10, "BAR", 1], b"Invalid argument: BAR"),
])
def test_execute_errors(ex, args, text):
    assert ex.error("AI.MODELEXECUTE", *args) == text
    assert ex.call("EXISTS", "y") == 0


def test_execute_backend_error_keeps_outputs_and_counts(ex):
    ex.ok("AI.TENSORSET", "y", "INT8", 1, "VALUES", 7)
    ex.ok("AI.TENSORSET", "xi", "INT32", 1, 3, "VALUES", 1, 2, 3)
    assert ex.error("AI.MODELEXECUTE", "m", "INPUTS", 1, "xi", "OUTPUTS", 1, "y").startswith(
        b"Unexpected input data type. Actual: (tensor(int32)) , expected: (tensor(float))")
    assert ex.ok("AI.TENSORGET", "y", "VALUES") == [7]
    info = mc.meta(ex.ok("AI.INFO", "m"))
    assert (info["calls"], info["errors"]) == (1, 1)


def test_execute_output_key_of_other_type(ex):
    """Outputs are stored like AI.TENSORSET would: never over another type."""
    ex.ok("SET", "y", "a string")
    assert ex.error("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "TIMEOUT", 60000) == WRONGTYPE
    assert ex.ok("GET", "y") == b"a string"
    ex.ok("DEL", "y")
    ex.ok("AI.TENSORSET", "y", "INT8", 1)  # a tensor is replaced
    assert ex.ok("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y", "TIMEOUT", 60000) == b"OK"
    assert ex.ok("AI.TENSORGET", "y", "VALUES") == [b"22.5", b"27"]


# ---- each backend: store, read back, run ---------------------------------------

def test_store_meta_blob_and_execute(shared, case):
    r = shared.client()
    r.flushall()
    assert r.execute_command(*case.store_cmd("m", "TAG", "v1", "BATCHSIZE", 8, "MINBATCHSIZE", 2,
                                             "MINBATCHTIMEOUT", 30)) == b"OK"
    expected_meta = [b"backend", case.backend.encode(), b"device", b"CPU", b"tag", b"v1",
                     b"batchsize", 8, b"minbatchsize", 2, b"inputs", case.meta_inputs,
                     b"outputs", case.meta_outputs, b"minbatchtimeout", 30]
    assert r.execute_command("AI.MODELGET", "m", "META") == expected_meta
    assert r.execute_command("AI.MODELGET", "m", "BLOB") == case.blob
    full = expected_meta + [b"blob", case.blob]
    assert r.execute_command("AI.MODELGET", "m") == full
    assert r.execute_command("AI.MODELGET", "m", "blob", "meta") == full
    assert r.type("m") == b"AI__MODEL"
    ins = case.set_inputs(r)
    outs = ["out%d" % i for i in range(len(case.outputs))]
    assert r.execute_command(*case.execute_cmd("m", ins, outs)) == b"OK"
    case.check_outputs(r, outs)
    version = {"ONNX": "ai_onnxruntime_version", "TORCH": "ai_Torch_version", "TF": "ai_TensorFlow_version"}
    assert r.info("ai")[version[case.backend]]


def test_store_replaces_model_and_chunks_join(shared, case):
    r = shared.client()
    r.flushall()
    r.execute_command(*case.store_cmd("m", "TAG", "first"))
    chunks = [case.blob[i:i + 50] for i in range(0, len(case.blob), 50)]
    cmd = case.store_cmd("m", "TAG", "second")
    assert r.execute_command(*cmd[:-1], *chunks) == b"OK"
    assert r.execute_command("AI.MODELGET", "m", "BLOB") == case.blob
    assert mc.meta(r.execute_command("AI.MODELGET", "m", "META"))["tag"] == b"second"
    ins = case.set_inputs(r)
    r.execute_command(*case.execute_cmd("m", ins, ["o%d" % i for i in range(len(case.outputs))]))
    case.check_outputs(r, ["o%d" % i for i in range(len(case.outputs))])


def test_wrong_types_between_models_and_tensors(raw):
    raw.ok("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN)
    raw.ok("AI.TENSORSET", "t", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
    assert raw.ok("TYPE", "m") == b"AI__MODEL"
    assert raw.error("AI.TENSORGET", "m", "META") == WRONGTYPE
    assert raw.error("AI.TENSORSET", "m", "FLOAT", 1) == WRONGTYPE
    assert raw.error("AI.MODELSTORE", "t", "ONNX", "CPU", "BLOB", LIN) == WRONGTYPE
    assert raw.ok("AI.TENSORGET", "t", "VALUES") == [b"1", b"2", b"3"]
    raw.ok("SET", "s", "x")
    assert raw.error("AI.MODELEXECUTE", "m", "INPUTS", 1, "s", "OUTPUTS", 1, "y") == WRONGTYPE
    assert raw.ok("AI.MODELGET", "m", "BLOB") == LIN


# ---- MULTI and Lua: the run commands block, so they are refused ----------------

CANNOT_BLOCK = b"ERR Cannot run RedisAI command within a transaction or a LUA script"
RUNS = [["AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y"],
        ["AI.MODELRUN", "m", "INPUTS", "x", "OUTPUTS", "y"]]


@pytest.mark.parametrize("run", RUNS, ids=["MODELEXECUTE", "MODELRUN"])
def test_run_refused_in_multi(ex, run):
    assert ex.ok("MULTI") == b"OK"
    assert ex.ok("AI.MODELSTORE", "m2", "ONNX", "CPU", "BLOB", LIN) == b"QUEUED"
    assert ex.ok(*run) == b"QUEUED"
    stored, refused = ex.ok("EXEC")
    assert stored == b"OK" and refused.text == CANNOT_BLOCK
    assert ex.call("EXISTS", "y") == 0 and ex.call("EXISTS", "m2") == 1


@pytest.mark.parametrize("run", RUNS, ids=["MODELEXECUTE", "MODELRUN"])
def test_run_refused_in_lua(ex, run):
    lua_args = ",".join("'%s'" % a for a in run)
    assert ex.error("EVAL", "return redis.pcall(%s)" % lua_args, 0) == CANNOT_BLOCK
    assert ex.error("EVAL", "return redis.call(%s)" % lua_args, 0).startswith(CANNOT_BLOCK)
    assert ex.call("EXISTS", "y") == 0
    # commands that do not block work from Lua
    assert ex.ok("EVAL", "return redis.call('AI.MODELGET', 'm', 'BLOB')", 0) == LIN


# ---- deprecated AI.MODELSET / AI.MODELRUN (spec §4.5, §4.8) ---------------------------

def modelset_cmd(case, key, *opts):
    names = [n for n in case.names if not isinstance(n, int)]  # no counts
    return ["AI.MODELSET", key, case.backend, "CPU", *opts, *names, "BLOB", case.blob]


def test_modelset_and_modelrun(shared, case):
    r = shared.client()
    r.flushall()
    assert r.execute_command(*modelset_cmd(case, "old", "TAG", "t", "BATCHSIZE", 4)) == b"OK"
    r.execute_command(*case.store_cmd("new", "TAG", "t", "BATCHSIZE", 4))
    assert r.execute_command("AI.MODELGET", "old") == r.execute_command("AI.MODELGET", "new")
    ins = case.set_inputs(r)
    outs = ["o%d" % i for i in range(len(case.outputs))]
    assert r.execute_command("AI.MODELRUN", "old", "INPUTS", *ins, "OUTPUTS", *outs) == b"OK"
    case.check_outputs(r, outs)
    r.delete(*outs)
    assert r.execute_command("AI.MODELRUN", "old", "TIMEOUT", 60000, "INPUTS", *ins, "OUTPUTS", *outs) == b"OK"
    case.check_outputs(r, outs)
    info = mc.meta(r.execute_command("AI.INFO", "old"))
    assert (info["calls"], info["samples"], info["errors"]) == (2, 2 * case.outputs[0].shape[0], 0)


@pytest.mark.parametrize("args,text", [
    (["m", "ONNX"], b"ERR wrong number of arguments for 'ai.modelset' command"),
    (["m", "ONNX", "CPU", "BLOB"], b"ERR Insufficient arguments, missing model BLOB"),
    (["m", "ONNX", "CPU", "TAG", "t"], b"ERR Insufficient arguments, missing model BLOB"),
    (["m", "TORCH", "BLOB", LIN], b"ERR Invalid DEVICE"),
    (["m", "FOO", "CPU", "BLOB", LIN], b"ERR unsupported backend"),
    (["m", "ONNX", "XPU", "BLOB", LIN], b"ERR Invalid DEVICE"),
    (["m", "TFLITE", "CPU", "BATCHSIZE", 2, "BLOB", LIN], b"ERR Auto-batching not supported by the TFLITE backend"),
    (["m", "ONNX", "CPU", "MINBATCHTIMEOUT", 5, "BLOB", LIN], b"ERR MINBATCHTIMEOUT specified without BATCHSIZE"),
    (["m", "FOO", "CPU", "MINBATCHTIMEOUT", 5, "BLOB", LIN], b"ERR unsupported backend"),
    (["m", "ONNX", "CPU", "MINBATCHSIZE", 2, "MINBATCHTIMEOUT", 5, "BLOB", LIN],
     b"ERR MINBATCHSIZE specified without BATCHSIZE"),
    (["m", "ONNX", "CPU", "BATCHSIZE", 2, "MINBATCHTIMEOUT", 5, "BLOB", LIN],
     b"ERR MINBATCHTIMEOUT specified without MINBATCHSIZE"),
    (["m", "ONNX", "CPU", "BATCHSIZE", "x", "BLOB", LIN], b"ERR Invalid argument for BATCHSIZE"),
    (["m", "ONNX", "CPU", "BATCHSIZE", 1, "MINBATCHSIZE", 2, "BLOB", LIN], b"ERR MINBATCHSIZE must not exceed BATCHSIZE"),
    (["m", "ONNX", "CPU", "TAG", "t", "BLOB"], b"ERR Insufficient arguments, missing model BLOB"),
    (["m", "ONNX", "CPU", "TAG", "t", "NOPE", LIN], b"ERR Invalid argument, expected BLOB"),
    (["m", "ONNX", "CPU", "INPUTS", "x", "OUTPUTS", "y", "BLOB", LIN],
     b"ERR INPUTS argument should not be specified for this backend"),
    (["m", "TF", "CPU", "BLOB", b"g"], b"ERR Insufficient arguments, INPUTS and OUTPUTS not specified"),
    (["m", "TF", "CPU", "not_inputs", "BLOB", b"g"], b"ERR INPUTS not specified"),
    (["m", "TF", "CPU", "INPUTS", "OUTPUTS", "c", "BLOB", b"g"], b"ERR INPUTS not specified for TF"),
    (["m", "TF", "CPU", "INPUTS", "a", "b", "BLOB", b"g"], b"ERR OUTPUTS not specified"),
    (["m", "TF", "CPU", "INPUTS", "a", "b", "OUTPUTS", "BLOB", b"g"], b"ERR OUTPUTS not specified for TF"),
])
def test_modelset_errors(raw, args, text):
    assert raw.error("AI.MODELSET", *args) == text
    assert raw.call("EXISTS", "m") == 0


def test_modelset_tflite_batching_wrongtype_first(raw):
    raw.ok("SET", "m", "v")
    assert raw.error("AI.MODELSET", "m", "TFLITE", "CPU", "BATCHSIZE", 2, "BLOB", LIN) == WRONGTYPE


@pytest.mark.parametrize("args,text", [
    (["m"], b"ERR wrong number of arguments for 'ai.modelrun' command"),
    (["nokey", "INPUTS", "x", "OUTPUTS", "y"], EMPTY_MODEL),
    (["x", "INPUTS", "x", "OUTPUTS", "y"], WRONGTYPE),
    (["m", "TIMEOUT"], b"ERR No value provided for TIMEOUT"),
    (["m", "TIMEOUT", 0, "INPUTS", "x", "OUTPUTS", "y"], b"ERR Invalid value for TIMEOUT"),
    (["m", "TIMEOUT", "x", "INPUTS", "x", "OUTPUTS", "y"], b"ERR Invalid value for TIMEOUT"),
    (["m", "x", "OUTPUTS", "y"], b"ERR INPUTS not specified"),
    (["m", "TIMEOUT", 5, "OUTPUTS", "y"], b"ERR INPUTS not specified"),
    (["m", "INPUTS", "x", "y"], b"ERR OUTPUTS not specified"),
    (["m", "INPUTS", "OUTPUTS", "y"], MISMATCH_IN),
    (["m", "INPUTS", "x", "x", "OUTPUTS", "y"], MISMATCH_IN),
    (["m", "INPUTS", "x", "OUTPUTS"], b"ERR wrong number of arguments for 'AI.MODELRUN' command"),
    (["m", "INPUTS", "x", "OUTPUTS", "y", "z"], b"ERR " + MISMATCH_OUT),
    (["m", "INPUTS", "nox", "OUTPUTS", "y", "z"], b"ERR " + MISMATCH_OUT),  # syntax before keys
    (["m", "INPUTS", "nox", "OUTPUTS", "y"], EMPTY_TENSOR),
    (["m", "INPUTS", "m", "OUTPUTS", "y"], WRONGTYPE),
])
def test_modelrun_errors(ex, args, text):
    assert ex.error("AI.MODELRUN", *args) == text
    assert ex.call("EXISTS", "y") == 0


def test_key_positions(raw):
    getkeys = lambda *cmd: raw.ok("COMMAND", "GETKEYS", *cmd)  # noqa: E731
    assert getkeys("AI.MODELEXECUTE", "m", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c", "TIMEOUT", 5) == \
        [b"m", b"a", b"b", b"c"]
    assert getkeys("AI.MODELRUN", "m", "TIMEOUT", 5, "INPUTS", "a", "b", "OUTPUTS", "c", "d") == \
        [b"m", b"a", b"b", b"c", b"d"]
    assert getkeys("AI.MODELRUN", "m", "INPUTS", "a", "OUTPUTS", "c") == [b"m", b"a", b"c"]
    assert getkeys("AI.MODELSET", "m", "ONNX", "CPU", "BLOB", "x") == [b"m"]
    assert getkeys("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", "x") == [b"m"]
    info = {c[0]: c for c in raw.ok("COMMAND", "INFO", "ai.modelset", "ai.modelrun", "ai.modelexecute")}
    # noscript: it loads code, so Lua may not call it (docs/security.md)
    assert info[b"ai.modelset"][2:6] == [[b"write", b"denyoom", b"module", b"noscript"], 1, 1, 1]
    assert info[b"ai.modelrun"][3:6] == [3, 3, 1] and b"movablekeys" in info[b"ai.modelrun"][2]
    assert info[b"ai.modelexecute"][3:6] == [4, 4, 1] and b"movablekeys" in info[b"ai.modelexecute"][2]
