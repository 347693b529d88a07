"""Issue 17, what RedisAI 1.2.7 users' suites trip on: a command is parsed in
full before any tensor key is looked up, RedisAI's exact error texts, and
AI.DAGRUN taking the deprecated ops only.  The replies are those of the
issue (checked there against a RedisAI 1.2.7 build); no tensor a{1}, b{1}
exists, so a syntax error must win over the missing key."""
import os

import pytest

import model_cases as mc
from backends import models
from script_helpers import SOURCE
from support.server import BUILD, ENGINE, RedisServer
from tensor_helpers import RawClient


@pytest.fixture(scope="module")
def shared():
    srv = RedisServer(modules=[(ENGINE, [])]).start()
    yield srv
    srv.stop()


@pytest.fixture
def raw(shared):
    """m{1}: TF c = a * b (two inputs, one output); s{1}: TorchScript."""
    c = RawClient(shared.sock)
    c.ok("FLUSHALL")
    c.ok("AI.MODELSTORE", "m{1}", "TF", "CPU", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c", "BLOB", mc.tf_graph("mul"))
    c.ok("AI.SCRIPTSTORE", "s{1}", "CPU", "ENTRY_POINTS", 1, "mul", "SOURCE", SOURCE)
    c.ok("AI.SCRIPTSET", "old{1}", "CPU", "SOURCE", SOURCE)
    yield c
    assert shared.alive()
    c.close()


SYNTAX_BEFORE_KEYS = [
    (["AI.MODELEXECUTE", "m{1}", "INPUTS", 2, "a{1}", "b{1}", "NOT_OUTPUTS", 1, "c{1}"], b"ERR OUTPUTS not specified"),
    (["AI.MODELEXECUTE", "m{1}", "INPUTS", 2, "a{1}", "b{1}", "OUTPUTS", 1, "c{1}", "bad_arg"],
     b"Invalid argument: bad_arg"),
    (["AI.MODELEXECUTE", "m{1}", "INPUTS", 2, "a{1}", "b{1}", "OUTPUTS", 1, "c{1}", "TIMEOUT", 0],
     b"ERR Invalid value for TIMEOUT"),
    (["AI.MODELRUN", "m{1}", "INPUTS", "a{1}", "b{1}", "OUTPUTS", "c{1}", "d{1}"],
     b"ERR Number of keys given as OUTPUTS here does not match model definition"),
    (["AI.SCRIPTRUN", "old{1}", "f", "INPUTS", "$", "a{1}", "$", "b{1}", "OUTPUTS"],
     b"ERR Already encountered a variable size list of tensors"),
    (["AI.SCRIPTRUN", "old{1}", "f", "INPUTS", "a{1}", "OUTPUTS", "c{1}", "TIMEOUT"],
     b"ERR No value provided for TIMEOUT"),
    (["AI.SCRIPTEXECUTE", "s{1}", "mul", "INPUTS", 2, "a{1}", "b{1}", "OUTPUTS", 1, "c{1}", "bad_arg"],
     b"ERR Invalid AI.SCRIPTEXECUTE command. Unexpected argument: bad_arg"),
    (["AI.SCRIPTEXECUTE", "s{1}", "mul", "INPUTS", 2, "a{1}", "b{1}", "OUTPUTS", 2, "c{1}"],
     b"ERR number of outputs to AI.SCRIPTEXECUTE command does not match the number of given arguments"),
    (["AI.DAGRUN", "|>", "AI.SCRIPTRUN", "old{1}", "f", "INPUTS", "$", "a", "$", "b", "OUTPUTS", "c"],
     b"ERR Already encountered a variable size list of tensors"),
]


@pytest.mark.parametrize("args,text", SYNTAX_BEFORE_KEYS, ids=range(len(SYNTAX_BEFORE_KEYS)))
def test_syntax_errors_come_before_missing_tensors(raw, args, text):
    assert raw.error(*args) == text
    assert raw.call("EXISTS", "c{1}") == 0


def test_missing_tensor_once_the_syntax_is_right(raw):
    assert raw.error("AI.MODELEXECUTE", "m{1}", "INPUTS", 2, "a{1}", "b{1}", "OUTPUTS", 1, "c{1}") == \
        b"ERR tensor key is empty or in a different shard"


ERROR_TEXTS = [
    (["AI.SCRIPTEXECUTE", "s{1}", "bar", "KEYS", 1], b"ERR Missing arguments after KEYS keyword"),
    (["AI.SCRIPTEXECUTE", "s{1}", "bar", "KEYS", "not_number", "key{1}"],
     b"ERR Invalid or negative value found in number of KEYS"),
    (["AI.SCRIPTEXECUTE", "s{1}", "bar", "KEYS", 2, "key{1}"],
     b"ERR Number of pre declared KEYS to be used in the command does not match the number of given arguments"),
    (["AI.SCRIPTEXECUTE", "nosuch{1}", "bar", "KEYS", 2, "key{1}"],  # the KEYS check comes first
     b"ERR Number of pre declared KEYS to be used in the command does not match the number of given arguments"),
    (["AI.DAGEXECUTE", "ROUTING", "a{1}", "|>", "AI.SCRIPTEXECUTE", "s{1}", "bar", "KEYS", 1],
     b"ERR Missing arguments after KEYS keyword"),
    (["AI.DAGEXECUTE", "ROUTING", "a{1}", "PERSIST", 2, "a{1}"],
     b"ERR number of keys to PERSIST after DAG execution does not match the number of given arguments"),
    (["AI.DAGRUN"], b"ERR wrong number of arguments for 'AI.DAGRUN' command"),
    (["AI.DAGRUN_RO"], b"ERR wrong number of arguments for 'AI.DAGRUN' command"),
    (["AI.MODELRUN", "m{1}", "INPUTS", "a{1}", "OUTPUTS"], b"ERR wrong number of arguments for 'AI.MODELRUN' command"),
    (["AI.MODELSTORE", "n{1}", "TORCH", "CPU", "BATCHSIZE", 2], b"ERR Insufficient arguments, missing model BLOB"),
    (["AI.MODELSET", "n{1}", "TORCH", "CPU", "TAG", "t"], b"ERR Insufficient arguments, missing model BLOB"),
    (["AI.MODELSET", "n{1}", "TORCH", "BLOB", b"model"], b"ERR Invalid DEVICE"),
    (["AI.MODELSET", "n{1}", "TF", "CPU", "BLOB", b"graph"],
     b"ERR Insufficient arguments, INPUTS and OUTPUTS not specified"),
    (["AI.MODELSET", "n{1}", "TF", "CPU", "not_inputs", "BLOB", b"graph"], b"ERR INPUTS not specified"),
    (["AI.MODELSET", "n{1}", "TF", "CPU", "INPUTS", "a", "b", "BLOB", b"graph"], b"ERR OUTPUTS not specified"),
    # AI.DAGRUN stays deprecated-only
    (["AI.DAGRUN", "|>", "AI.MODELEXECUTE", "m{1}", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c"],
     b"ERR AI.MODELEXECUTE cannot be used in a deprecated AI.DAGRUN command"),
    (["AI.DAGRUN", "|>", "AI.SCRIPTEXECUTE", "s{1}", "mul", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c"],
     b"ERR AI.SCRIPTEXECUTE cannot be used in a deprecated AI.DAGRUN command"),
    (["AI.DAGRUN_RO", "|>", "AI.MODELEXECUTE", "m{1}", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c"],
     b"ERR AI.MODELEXECUTE cannot be used in a deprecated AI.DAGRUN command"),
]


@pytest.mark.parametrize("args,text", ERROR_TEXTS, ids=range(len(ERROR_TEXTS)))
def test_error_texts(raw, args, text):
    assert raw.error(*args) == text
    assert raw.call("EXISTS", "n{1}", "c{1}") == 0


def test_tf_input_not_in_graph(raw):
    assert raw.error("AI.MODELSTORE", "n{1}", "TF", "CPU", "INPUTS", 2, "bad_input", "b", "OUTPUTS", 1, "c",
                     "BLOB", mc.tf_graph("mul")) == b'ERR Input node named "bad_input" not found in TF graph.'


def test_dagrun_runs_the_deprecated_ops(raw):
    raw.ok("AI.TENSORSET", "a{1}", "FLOAT", 2, "VALUES", 2, 3)
    assert raw.ok("AI.DAGRUN", "LOAD", 1, "a{1}", "PERSIST", 1, "c{1}",
                  "|>", "AI.MODELRUN", "m{1}", "INPUTS", "a{1}", "a{1}", "OUTPUTS", "c{1}") == [b"OK"]
    assert raw.ok("AI.TENSORGET", "c{1}", "VALUES") == [b"4", b"9"]


# ---- INFO: RedisAI's sections, in its order, with its field names (spec §7.2) ----

INFO_SECTIONS = [
    ("ai_versions", ["ai_RedisAI_version", "ai_low_level_API_version", "ai_rdb_version"]),
    ("ai_git", ["ai_git_sha"]),
    ("ai_load_time_configs", ["ai_threads_per_queue", "ai_inter_op_parallelism", "ai_intra_op_parallelism",
                              "ai_model_execution_timeout", "ai_backend_memory_limit",
                              "ai_backends_path", "ai_worker_spin_us", "ai_values_reply_limit"]),  # ours last
    ("ai_backends_info", ["ai_TensorFlow_version", "ai_Torch_version", "ai_onnxruntime_version", "ai_onnxruntime_memory",
                          "ai_onnxruntime_memory_access_num", "ai_onnxruntime_maximum_run_sessions_number"]),
    ("ai_cpu", ["ai_self_used_cpu_sys", "ai_self_used_cpu_user", "ai_children_used_cpu_sys",
                "ai_children_used_cpu_user", "ai_main_thread_used_cpu_sys", "ai_main_thread_used_cpu_user",
                "ai_queue_CPU_bthread_n1_used_cpu_total"]),
]


def sections(text):
    """[(section name, [field names])] of an INFO reply, in order."""
    out = []
    for line in text.decode().splitlines():
        if line.startswith("# "):
            out.append((line[2:], []))
        elif ":" in line and out:
            out[-1][1].append(line.split(":", 1)[0])
    return out


def test_info_sections_by_position_and_by_name(raw):
    raw.ok("AI.MODELSTORE", "lin{1}", "ONNX", "CPU", "BLOB", mc.onnx_sum0())  # TF, TORCH: by the fixture
    got = sections(raw.ok("INFO", "MODULES"))
    assert got[0][0] == "Modules"
    assert got[1:] == INFO_SECTIONS
    for name, fields in INFO_SECTIONS:
        assert sections(raw.ok("INFO", name)) == [(name, fields)]
    text = raw.ok("INFO", "ai_cpu").decode()
    main_sys = float(text.split("ai_main_thread_used_cpu_sys:")[1].split()[0])
    self_sys = float(text.split("ai_self_used_cpu_sys:")[1].split()[0])
    assert 0 <= main_sys <= self_sys


# ---- SLOWLOG and INFO commandstats count the background run --------------------

SLOW = models.slow_matmuls(n=8, size=256)  # a run of milliseconds


def test_slowlog_and_commandstats_count_the_run(raw):
    raw.ok("AI.MODELSTORE", "slow{1}", "ONNX", "CPU", "BLOB", SLOW)
    raw.ok("AI.TENSORSET", "x{1}", "FLOAT", 1, "VALUES", 1)
    raw.ok("CONFIG", "SET", "slowlog-log-slower-than", 0)
    raw.ok("CONFIG", "RESETSTAT")
    raw.ok("SLOWLOG", "RESET")
    assert raw.ok("AI.MODELEXECUTE", "slow{1}", "INPUTS", 1, "x{1}", "OUTPUTS", 1, "y{1}") == b"OK"
    assert raw.ok("AI.DAGEXECUTE", "LOAD", 1, "x{1}", "|>", "AI.MODELEXECUTE", "slow{1}", "INPUTS", 1, "x{1}",
                  "OUTPUTS", 1, "y{1}") == [b"OK"]
    run_us = mc.meta(raw.ok("AI.INFO", "slow{1}"))["duration"]  # both runs, as the engine timed them
    logged = {entry[3][0].decode().lower(): entry[2] for entry in raw.ok("SLOWLOG", "GET", 128)}
    assert logged["ai.modelexecute"] + logged["ai.dagexecute"] >= run_us > 2000
    stats = raw.ok("INFO", "commandstats").decode()
    usec = {line.split(":")[0]: int(line.split("usec=")[1].split(",")[0])
            for line in stats.splitlines() if line.startswith("cmdstat_ai.")}
    assert usec["cmdstat_ai.modelexecute"] + usec["cmdstat_ai.dagexecute"] >= run_us


# ---- both modules refuse a server older than 7.0 ------------------------------

LLAPI = os.path.join(BUILD, "tests", "llapi_test.so")


def test_server_version_decision(server_factory):
    """The decision both modules take at load (src/common/rm_api.c), asked
    through the test module for servers this machine does not run."""
    srv = server_factory(modules=[(ENGINE, []), (LLAPI, [])])
    r = srv.client()
    supported = {v: r.execute_command("LLAPI.SERVER_VERSION_SUPPORTED", v)
                 for v in (0x00060009, 0x00060210, 0x000600ff, 0x00070000, 0x0007000f, 0x00070200, 0x00080000)}
    assert supported == {0x00060009: 0, 0x00060210: 0, 0x000600ff: 0, 0x00070000: 1, 0x0007000f: 1,
                         0x00070200: 1, 0x00080000: 1}
