"""AI.INFO (counters, RESETSTAT), AI.CONFIG (BACKENDSPATH, LOADBACKEND,
MODEL_CHUNK_SIZE, WORKER_SPIN_US, GET), backend loading and INFO ai versions, and TIMEOUT,
for models of each backend (spec §2.7, §4.14, §4.15, §6.2, §7)."""
import importlib.metadata
import os
import threading
import time

import numpy as np
import pytest

import model_cases as mc
from support.server import BUILD, ENGINE
from tensor_helpers import RawClient, info_field, wait_for

import models  # noqa: E402  (tests/backends, put on the path by model_cases)

LIN = models.linear()
NO_INFO = b"ERR cannot find run info for key"
ONNX_LIB = "redisai_onnxruntime/redisai_onnxruntime.so"


@pytest.fixture(scope="module", params=mc.BACKENDS)
def case(request):
    return mc.case(request.param)


def outs(case, prefix="o"):
    return ["%s%d" % (prefix, i) for i in range(len(case.outputs))]


def bad_inputs(r, case):
    """Input keys for a run the backend refuses: the first input has a
    shape none of the models accepts with the others."""
    keys = case.set_inputs(r, prefix="bad_")
    r.execute_command("AI.TENSORSET", keys[0], "FLOAT", 3, 5)
    return keys


# ---- AI.INFO ---------------------------------------------------------------

def test_info_counts_runs_errors_and_resets(engine, case):
    r = engine.client()
    raw = RawClient(engine.sock)
    r.execute_command(*case.store_cmd("m", "TAG", "v7"))
    rows = case.outputs[0].shape[0]
    assert raw.ok("AI.INFO", "m") == [
        b"key", b"m", b"type", b"MODEL", b"backend", case.backend.encode(), b"device", b"CPU",
        b"tag", b"v7", b"duration", 0, b"samples", 0, b"calls", 0, b"errors", 0]
    ins = case.set_inputs(r)
    for _ in range(3):
        r.execute_command(*case.execute_cmd("m", ins, outs(case)))
    info = mc.meta(r.execute_command("AI.INFO", "m"))
    assert (info["calls"], info["samples"], info["errors"]) == (3, 3 * rows, 0)
    assert info["duration"] > 0
    duration = info["duration"]
    # a run the backend refuses: counted as a call and an error, nothing else
    msg = raw.error(*case.execute_cmd("m", bad_inputs(r, case), outs(case, "e")))
    assert msg and r.exists(*outs(case, "e")) == 0
    info = mc.meta(r.execute_command("AI.INFO", "m"))
    assert (info["calls"], info["samples"], info["errors"], info["duration"]) == (4, 3 * rows, 1, duration)
    assert r.execute_command("AI.INFO", "m", "resetstat") == b"OK"
    info = mc.meta(r.execute_command("AI.INFO", "m"))
    assert (info["calls"], info["samples"], info["errors"], info["duration"]) == (0, 0, 0, 0)
    r.execute_command(*case.execute_cmd("m", ins, outs(case)))
    assert mc.meta(r.execute_command("AI.INFO", "m"))["calls"] == 1
    assert engine.alive()


def test_info_errors(engine):
    raw = RawClient(engine.sock)
    assert raw.error("AI.INFO") == b"ERR wrong number of arguments for 'ai.info' command"
    assert raw.error("AI.INFO", "m", "RESETSTAT", "x") == b"ERR wrong number of arguments for 'ai.info' command"
    assert raw.error("AI.INFO", "m") == NO_INFO
    assert raw.error("AI.INFO", "m", "RESETSTAT") == NO_INFO
    raw.ok("AI.TENSORSET", "t", "FLOAT", 1)
    assert raw.error("AI.INFO", "t") == NO_INFO
    raw.ok("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN)
    assert raw.error("AI.INFO", "m", "RESET") == b"ERR unsupported subcommand"


# ---- backends: loading and versions -------------------------------------------------

def test_info_ai_reports_each_loaded_backend_version(engine):
    r = engine.client()
    fields = ("ai_onnxruntime_version", "ai_Torch_version", "ai_TensorFlow_version")
    assert all(r.info("ai").get(f) is None for f in fields)
    for backend in mc.BACKENDS:
        r.execute_command(*mc.case(backend).store_cmd("m_" + backend))
    info = r.info("ai")
    assert info["ai_onnxruntime_version"] == importlib.metadata.version("onnxruntime")
    assert str(info["ai_Torch_version"]) == importlib.metadata.version("torch").split("+")[0]
    assert info["ai_TensorFlow_version"] == importlib.metadata.version("tensorflow-cpu")
    with open(engine.logfile) as f:
        assert "backend TORCH not loaded, will try loading default backend" in f.read()


def test_onnx_memory_goes_through_redis_and_is_counted(engine):
    """ONNX Runtime allocates through the engine's allocator: the model's
    weights and outputs show in used_memory and in INFO's
    ai_onnxruntime_memory, and runs count in ..._memory_access_num."""
    r = engine.client()
    before = int(r.info("memory")["used_memory"])
    weights = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)  # 1 MiB
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.matmul_by(weights))
    info = r.info("ai")
    assert info["ai_onnxruntime_memory"] >= weights.nbytes
    assert int(r.info("memory")["used_memory"]) - before >= weights.nbytes
    accesses = info["ai_onnxruntime_memory_access_num"]
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 512, "BLOB", np.ones((1, 512), np.float32).tobytes())
    r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    y = np.frombuffer(r.execute_command("AI.TENSORGET", "y", "BLOB"), np.float32)
    np.testing.assert_allclose(y, weights.sum(axis=0), rtol=1e-4, atol=1e-3)
    assert r.info("ai")["ai_onnxruntime_memory_access_num"] > accesses
    r.delete("m")
    assert r.info("ai")["ai_onnxruntime_memory"] < weights.nbytes  # the weights went with the model


def test_backend_memory_limit_fails_loads_and_runs_past_it(server_factory):
    """BACKEND_MEMORY_LIMIT (MB) caps what ONNX Runtime holds: a model or a
    run that would need more fails with the spec's text, counts as an
    error, and the server and the other models go on."""
    srv = server_factory(modules=[(ENGINE, ["BACKEND_MEMORY_LIMIT", 1])])
    r, raw = srv.client(), RawClient(srv.sock)
    big = np.ones((1024, 512), np.float32)  # 2 MiB of weights
    assert raw.error("AI.MODELSTORE", "big", "ONNX", "CPU", "BLOB", models.matmul_by(big)) == \
        b"Onnxruntime memory limit exceeded, memory allocation failed."
    assert r.exists("big") == 0
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.mul_add())
    r.execute_command("AI.TENSORSET", "small", "FLOAT", 4, "VALUES", 1, 2, 3, 4)
    assert raw.ok("AI.MODELEXECUTE", "m", "INPUTS", 1, "small", "OUTPUTS", 1, "y") == b"OK"
    x = np.ones(512 * 1024, np.float32)  # a 2 MiB output: the input itself is not copied
    r.execute_command("AI.TENSORSET", "large", "FLOAT", x.size, "BLOB", x.tobytes())
    assert raw.error("AI.MODELEXECUTE", "m", "INPUTS", 1, "large", "OUTPUTS", 1, "z") == \
        b"Onnxruntime memory limit exceeded, memory allocation failed."
    assert r.exists("z") == 0
    assert mc.meta(r.execute_command("AI.INFO", "m"))["errors"] == 1
    assert raw.ok("AI.MODELEXECUTE", "m", "INPUTS", 1, "small", "OUTPUTS", 1, "y") == b"OK"
    assert r.execute_command("AI.TENSORGET", "y", "VALUES") == [b"3", b"5", b"7", b"9"]
    assert r.info("ai")["ai_backend_memory_limit"] == 1


def test_backend_memory_limit_fails_only_the_run_that_passed_it(server_factory):
    """A run in progress while another one passes BACKEND_MEMORY_LIMIT (on
    another worker) succeeds: it allocated nothing past the limit itself."""
    srv = server_factory(modules=[(ENGINE, ["BACKEND_MEMORY_LIMIT", 32, "THREADS_PER_QUEUE", 2,
                                            "INTRA_OP_PARALLELISM", 1])])
    r, raw = srv.client(), RawClient(srv.sock)
    w = np.eye(1024, dtype=np.float32)
    r.execute_command("AI.MODELSTORE", "slow", "ONNX", "CPU", "BLOB", models.matmul_by(w))  # 4 MiB
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.mul_add())
    x = np.arange(4096 * 1024, dtype=np.float32).reshape(4096, 1024) % 7  # 16 MiB out: 20 MiB in all
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 4096, 1024, "BLOB", x.tobytes())
    large = np.ones(4 << 20, np.float32)  # 16 MiB more: past the limit
    r.execute_command("AI.TENSORSET", "large", "FLOAT", large.size, "BLOB", large.tobytes())
    for _ in range(3):  # the big run must start and end while the slow one computes
        done = {}

        def slow_run():
            done["slow"] = RawClient(srv.sock).call("AI.MODELEXECUTE", "slow", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
            done["slow_at"] = time.monotonic()

        t = threading.Thread(target=slow_run)
        t.start()
        time.sleep(0.03)
        assert raw.error("AI.MODELEXECUTE", "m", "INPUTS", 1, "large", "OUTPUTS", 1, "z") == \
            b"Onnxruntime memory limit exceeded, memory allocation failed."
        big_at = time.monotonic()
        t.join()
        if done["slow_at"] > big_at:
            break
    else:
        pytest.skip("the slow run never outlasted the big one on this machine")
    assert done["slow"] == b"OK"
    y = np.frombuffer(r.execute_command("AI.TENSORGET", "y", "BLOB"), np.float32).reshape(4096, 1024)
    np.testing.assert_array_equal(y, x)


def test_outputs_stored_in_keys_do_not_count_against_the_memory_limit(server_factory):
    """Under BACKEND_MEMORY_LIMIT the outputs leave ONNX Runtime's memory
    when they are stored, as in RedisAI: many stored outputs, together past
    the limit, do not fail the runs after them."""
    srv = server_factory(modules=[(ENGINE, ["BACKEND_MEMORY_LIMIT", 4])])
    r = srv.client()
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", models.mul_add())
    x = np.arange(256 * 1024, dtype=np.float32)  # 1 MiB
    r.execute_command("AI.TENSORSET", "x", "FLOAT", x.size, "BLOB", x.tobytes())
    for i in range(12):
        r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y%d" % i)
    assert r.info("ai")["ai_onnxruntime_memory"] < 1 << 20
    y = np.frombuffer(r.execute_command("AI.TENSORGET", "y11", "BLOB"), np.float32)
    np.testing.assert_array_equal(y, x * 2 + 1)


def test_info_ai_cpu_reports_each_worker_of_each_queue(server_factory):
    """INFO ai_cpu: the process's CPU time and each worker thread's, per
    device queue (a ':' in the device becomes '_'); the ONNX backend's
    maximum of runs at once is the number of workers (spec §7.2)."""
    srv = server_factory(modules=[(ENGINE, ["THREADS_PER_QUEUE", 2])])
    r = srv.client()
    cpu = ["ai_queue_CPU_bthread_n%d_used_cpu_total" % i for i in (1, 2)]
    cpu1 = ["ai_queue_CPU_1_bthread_n%d_used_cpu_total" % i for i in (1, 2)]
    assert [k for k in r.info("ai_cpu") if "bthread" in k] == cpu
    assert "ai_onnxruntime_maximum_run_sessions_number" not in r.info("ai")  # not loaded yet
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU:1", "BLOB", models.matmul_by(np.eye(64, dtype=np.float32)))
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 64)
    before = r.info("ai_cpu")
    assert [k for k in before if "bthread" in k] == cpu + cpu1  # the new queue, listed after CPU
    for _ in range(300):
        r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    after = r.info("ai")
    assert sum(after[w] - before[w] for w in cpu1) > 0.001  # the runs' time is on this queue's workers
    assert sum(after[w] - before[w] for w in cpu) < 0.001  # and not on CPU's
    assert after["ai_self_used_cpu_user"] + after["ai_self_used_cpu_sys"] > sum(after[w] for w in cpu + cpu1)
    assert after["ai_children_used_cpu_user"] == 0
    assert after["ai_onnxruntime_maximum_run_sessions_number"] == 4


def test_loadbackend(engine):
    raw = RawClient(engine.sock)
    assert raw.ok("AI.CONFIG", "LOADBACKEND", "ONNX", ONNX_LIB) == b"OK"
    assert info_field(engine.client(), "ai", "ai_onnxruntime_version")
    assert raw.ok("AI.CONFIG", "LOADBACKEND", "ONNX", ONNX_LIB) == b"OK"  # already loaded: logged
    with open(engine.logfile) as f:
        assert "Could not load ONNX backend: backend already loaded" in f.read()
    torch_path = os.path.join(BUILD, "backends", "redisai_torch", "redisai_torch.so")
    assert raw.ok("AI.CONFIG", "LOADBACKEND", "torch", torch_path) == b"OK"  # absolute
    assert raw.error("AI.CONFIG", "LOADBACKEND", "TF", "nowhere/lib.so") == b"ERR error loading backend"
    assert raw.error("AI.CONFIG", "LOADBACKEND", "TF", ENGINE) == b"ERR error loading backend"  # not a backend
    # another backend's library: refused, and TF stays unloaded
    assert raw.error("AI.CONFIG", "LOADBACKEND", "TF", ONNX_LIB) == b"ERR error loading backend"
    assert raw.error("AI.CONFIG", "LOADBACKEND", "tf", torch_path) == b"ERR error loading backend"
    assert "ai_TensorFlow_version" not in engine.client().info("ai")
    with open(engine.logfile) as f:
        assert "redisai_onnxruntime.so is the ONNX backend, not TF: not loaded" in f.read()
    assert raw.error("AI.CONFIG", "LOADBACKEND", "TFLITE", "redisai_tflite/redisai_tflite.so") == \
        b"ERR error loading backend"
    assert raw.error("AI.CONFIG", "LOADBACKEND", "FOO", ONNX_LIB) == b"ERR unsupported backend"
    assert raw.error("AI.CONFIG", "LOADBACKEND", "ONNX") == b"ERR wrong number of arguments for 'ai.config' command"
    assert engine.alive()


def test_backendspath(engine, tmp_path):
    raw = RawClient(engine.sock)
    assert raw.ok("AI.CONFIG", "GET", "BACKENDSPATH") == os.path.join(BUILD, "backends").encode()
    assert raw.ok("AI.CONFIG", "BACKENDSPATH", str(tmp_path)) == b"OK"
    assert raw.ok("AI.CONFIG", "GET", "backendspath") == str(tmp_path).encode()
    assert raw.error("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN) == b"ERR Could not load backend"
    assert raw.error("AI.CONFIG", "LOADBACKEND", "ONNX", ONNX_LIB) == b"ERR error loading backend"
    # a tree with the library where BACKENDSPATH now points
    os.makedirs(tmp_path / "redisai_onnxruntime")
    os.symlink(os.path.join(BUILD, "backends", ONNX_LIB), tmp_path / ONNX_LIB)
    os.symlink(os.path.join(BUILD, "backends", "redisai_onnxruntime", "lib"), tmp_path / "redisai_onnxruntime" / "lib")
    assert raw.ok("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN) == b"OK"
    assert raw.error("AI.CONFIG", "BACKENDSPATH") == b"ERR BACKENDSPATH: missing path argument"


def test_backend_at_start_and_bad_backendspath_argument(server_factory, tmp_path):
    srv = server_factory(modules=[(ENGINE, ["ONNX", ONNX_LIB])])
    assert info_field(srv.client(), "ai", "ai_onnxruntime_version") == importlib.metadata.version("onnxruntime")
    srv = server_factory(modules=[(ENGINE, ["BACKENDSPATH", str(tmp_path)])])
    raw = RawClient(srv.sock)
    assert raw.ok("AI.CONFIG", "GET", "BACKENDSPATH") == str(tmp_path).encode()
    assert raw.error("AI.MODELSTORE", "m", "TORCH", "CPU", "BLOB", b"x") == b"ERR Could not load backend"


@pytest.mark.parametrize("args,logged", [
    (["THREADS_PER_QUEUE"], "Even number of arguments provided to module. Please provide arguments as KEY VAL pairs"),
    (["THREADS_PER_QUEUE", 0], "ERR error processing argument: THREADS_PER_QUEUE 0"),
    (["INTRA_OP_PARALLELISM", -1], "ERR error processing argument: INTRA_OP_PARALLELISM -1"),
    (["MODEL_EXECUTION_TIMEOUT", 999], "ERR error processing argument: MODEL_EXECUTION_TIMEOUT 999"),
    (["MODEL_CHUNK_SIZE", "big"], "ERR error processing argument: MODEL_CHUNK_SIZE big"),
    (["NOSUCH", 1], "ERR error processing argument: NOSUCH 1"),
    (["WORKER_SPIN_US", -1], "ERR error processing argument: WORKER_SPIN_US -1"),
    (["WORKER_SPIN_US", 100001], "ERR error processing argument: WORKER_SPIN_US 100001"),
])
def test_bad_module_arguments_refuse_to_load(server_factory, args, logged):
    with pytest.raises(RuntimeError) as e:
        server_factory(modules=[(ENGINE, args)])
    assert logged in str(e.value)


def test_config_errors(engine):
    raw = RawClient(engine.sock)
    assert raw.error("AI.CONFIG") == b"ERR wrong number of arguments for 'ai.config' command"
    assert raw.error("AI.CONFIG", "NOPE", 1) == b"ERR unsupported subcommand"
    assert raw.ok("AI.CONFIG", "GET", "NOPE") is None
    assert raw.error("AI.CONFIG", "MODEL_CHUNK_SIZE") == b"ERR MODEL_CHUNK_SIZE: missing chunk size"
    for bad in (0, -1, "big", "1.5"):
        assert raw.error("AI.CONFIG", "MODEL_CHUNK_SIZE", bad) == b"ERR MODEL_CHUNK_SIZE: invalid chunk size"
    assert raw.ok("AI.CONFIG", "GET", "MODEL_CHUNK_SIZE") == 511 * 1024 * 1024


# ---- MODEL_CHUNK_SIZE: MODELGET returns the blob in pieces -----------------------------

def test_model_chunk_size_splits_modelget_blob(engine, case):
    r = engine.client()
    r.execute_command(*case.store_cmd("m"))
    assert r.execute_command("AI.MODELGET", "m", "BLOB") == case.blob
    assert r.execute_command("AI.CONFIG", "MODEL_CHUNK_SIZE", 100) == b"OK"
    assert r.execute_command("AI.CONFIG", "GET", "MODEL_CHUNK_SIZE") == 100
    chunks = r.execute_command("AI.MODELGET", "m", "BLOB")
    assert chunks == [case.blob[i:i + 100] for i in range(0, len(case.blob), 100)]
    assert mc.meta(r.execute_command("AI.MODELGET", "m"))["blob"] == chunks
    # the pieces are a valid upload, and the model survives a reload in pieces
    assert r.execute_command(*case.store_cmd("copy")[:-1], *chunks) == b"OK"
    r.execute_command("DEBUG", "RELOAD")
    for k in ("m", "copy"):
        assert b"".join(r.execute_command("AI.MODELGET", k, "BLOB")) == case.blob
    ins = case.set_inputs(r)
    r.execute_command(*case.execute_cmd("copy", ins, outs(case)))
    case.check_outputs(r, outs(case))
    r.execute_command("AI.CONFIG", "MODEL_CHUNK_SIZE", len(case.blob))
    assert r.execute_command("AI.MODELGET", "m", "BLOB") == case.blob


def test_model_chunk_size_module_argument(server_factory):
    r = server_factory(modules=[(ENGINE, ["MODEL_CHUNK_SIZE", 64])]).client()
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN)
    assert r.execute_command("AI.MODELGET", "m", "BLOB") == [LIN[i:i + 64] for i in range(0, len(LIN), 64)]


# ---- WORKER_SPIN_US: idle workers watch their queue before sleeping ---------------------

def linear_rows(r, n_clients, runs, model):
    """Runs `model` (models.linear) from n_clients threads at once; returns
    what went wrong: wrong outputs, errors, clients that did not finish."""
    bad = []

    def client(c):
        try:
            for k in range(runs):
                x = np.array([[c, k, 1.0]], np.float32)
                r.execute_command("AI.TENSORSET", f"x{c}", "FLOAT", 1, 3, "BLOB", x.tobytes())
                r.execute_command("AI.MODELEXECUTE", model, "INPUTS", 1, f"x{c}", "OUTPUTS", 1, f"y{c}")
                y = np.frombuffer(r.execute_command("AI.TENSORGET", f"y{c}", "BLOB"), np.float32)
                if not np.allclose(y, (x @ models.LINEAR_W + models.LINEAR_B).ravel()):
                    bad.append((c, k, y))
        except Exception as e:  # reported, not lost with the thread
            bad.append((c, repr(e)))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return bad + [("still running", t.name) for t in threads if t.is_alive()]


def test_worker_spin_us(server_factory):
    srv = server_factory(modules=[(ENGINE, ["WORKER_SPIN_US", 2000])])
    r = srv.client()
    raw = RawClient(srv.sock)
    assert raw.ok("AI.CONFIG", "GET", "WORKER_SPIN_US") == 2000
    assert info_field(r, "ai", "ai_worker_spin_us") in (2000, "2000")
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN)
    r.execute_command("AI.MODELSTORE", "mb", "ONNX", "CPU", "BATCHSIZE", 4, "BLOB", LIN)
    # spinning workers still give every client its own rows, batched or not
    assert linear_rows(r, 6, 30, "m") == []
    assert linear_rows(r, 6, 30, "mb") == []
    assert raw.error("AI.CONFIG", "WORKER_SPIN_US") == b"ERR WORKER_SPIN_US: missing value"
    for bad in (-1, 100001, "fast", "1.5"):
        assert raw.error("AI.CONFIG", "WORKER_SPIN_US", bad) == \
            b"ERR WORKER_SPIN_US: invalid value (0 to 100000 microseconds)"
    assert raw.ok("AI.CONFIG", "GET", "WORKER_SPIN_US") == 2000  # errors changed nothing
    # the longest spin: the main thread is not the one spinning
    assert raw.ok("AI.CONFIG", "WORKER_SPIN_US", 100000) == b"OK"
    assert linear_rows(r, 2, 10, "m") == []
    assert r.ping()
    assert raw.ok("AI.CONFIG", "WORKER_SPIN_US", 0) == b"OK"
    assert raw.ok("AI.CONFIG", "GET", "WORKER_SPIN_US") == 0
    assert linear_rows(r, 3, 10, "m") == []


# ---- TIMEOUT ----------------------------------------------------------------------------

def test_timeout_while_queued_behind_a_slow_run(engine, case):
    """A run that waited in the queue longer than its TIMEOUT is dropped:
    +TIMEDOUT, no output written.  The CPU queue (one worker) is kept busy by
    a slow ONNX model that runs for a long time compared with 1 ms."""
    r = engine.client()
    r.execute_command("AI.MODELSTORE", "slow", "ONNX", "CPU", "BLOB", models.slow_matmuls(n=40))
    r.execute_command("AI.TENSORSET", "one", "FLOAT", 1, "VALUES", 1)
    r.execute_command(*case.store_cmd("m"))
    ins = case.set_inputs(r)
    busy = RawClient(engine.sock)
    busy.send("AI.MODELEXECUTE", "slow", "INPUTS", 1, "one", "OUTPUTS", 1, "slow_out")
    wait_for(lambda: info_field(r, "clients", "blocked_clients") in (1, "1"), "the slow run to block")
    raw = RawClient(engine.sock)
    assert raw.ok(*case.execute_cmd("m", ins, outs(case)), "TIMEOUT", 1) == b"TIMEDOUT"
    assert r.exists(*outs(case)) == 0
    assert busy.read() == b"OK"
    # with room to spare, the same run completes
    assert raw.ok(*case.execute_cmd("m", ins, outs(case)), "TIMEOUT", 600000) == b"OK"
    case.check_outputs(r, outs(case))


def test_timeout_of_deprecated_modelrun(engine):
    r = engine.client()
    r.execute_command("AI.MODELSTORE", "slow", "ONNX", "CPU", "BLOB", models.slow_matmuls(n=40))
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN)
    r.execute_command("AI.TENSORSET", "one", "FLOAT", 1, "VALUES", 1)
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
    busy = RawClient(engine.sock)
    busy.send("AI.MODELRUN", "slow", "INPUTS", "one", "OUTPUTS", "slow_out")
    wait_for(lambda: info_field(r, "clients", "blocked_clients") in (1, "1"), "the slow run to block")
    assert RawClient(engine.sock).ok("AI.MODELRUN", "m", "TIMEOUT", 1, "INPUTS", "x", "OUTPUTS", "y") == b"TIMEDOUT"
    assert busy.read() == b"OK"
    assert r.exists("y") == 0 and r.exists("slow_out") == 1


def test_main_thread_stays_free_during_runs(engine):
    """While a long run blocks its client, other clients are served."""
    r = engine.client()
    r.execute_command("AI.MODELSTORE", "slow", "ONNX", "CPU", "BLOB", models.slow_matmuls(n=40))
    r.execute_command("AI.TENSORSET", "one", "FLOAT", 1, "VALUES", 1)
    busy = RawClient(engine.sock)
    busy.send("AI.MODELEXECUTE", "slow", "INPUTS", 1, "one", "OUTPUTS", 1, "y")
    wait_for(lambda: info_field(r, "clients", "blocked_clients") in (1, "1"), "the slow run to block")
    served = []
    t = threading.Thread(target=lambda: served.append(engine.client().ping()))
    t.start()
    t.join(60)
    assert served == [True]
    assert info_field(r, "clients", "blocked_clients") in (1, "1")  # the slow run is still going
    assert busy.read() == b"OK"
    y = np.frombuffer(r.execute_command("AI.TENSORGET", "y", "BLOB"), np.float32)
    assert y.shape == (1,) and np.isfinite(y).all()


def cpu_of_other_threads_s(srv):
    """CPU time so far of the server's threads other than the main one (the
    workers), from /proc/PID/task/*/schedstat."""
    with open(srv.pidfile) as f:
        pid = f.read().strip()
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        if tid == pid:
            continue
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:  # a thread that just ended
            pass
    return total / 1e9


def test_worker_spin_costs_nothing_when_runs_come_further_apart(server_factory):
    # The spin adapts to the gaps between runs: with runs 0.25 s apart, a
    # limit of 0.1 s is never spent (a fixed spin would burn 0.1 s of CPU
    # after each of the 6 runs).  Back-to-back runs between the spaced ones
    # make it spin, and must not keep it spinning once the gaps are long.
    srv = server_factory(modules=[(ENGINE, ["WORKER_SPIN_US", 100000])])
    r = srv.client()
    r.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LIN)
    r.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
    r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    for _ in range(50):
        r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    before = cpu_of_other_threads_s(srv)
    for _ in range(6):
        time.sleep(0.25)
        r.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")
    time.sleep(0.25)
    spent = cpu_of_other_threads_s(srv) - before
    assert spent < 0.12, f"workers used {spent:.3f} s of CPU for 6 runs 0.25 s apart"
    want = np.array([[1, 2, 3]], np.float32) @ models.LINEAR_W + models.LINEAR_B
    assert np.allclose(np.frombuffer(r.execute_command("AI.TENSORGET", "y", "BLOB"), np.float32), want.ravel())
