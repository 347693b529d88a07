"""Who may run what (issue 19, item 1): on Redis 7.0, which has no API for
module commands' ACL categories, a user kept off Redis's dangerous commands
(`+@all -@dangerous`) is also kept off the modules' dangerous ones, with
Redis's NOPERM text; every other command works for that user, and the
default user is unaffected."""
import numpy as np
import pytest
import redis

from model_cases import case
from script_helpers import needs_torch, store
from support.flows import error_of, host_module, pyexecute, trigger
from support.server import ENGINE

FLOW = "GB('CommandReader').map(lambda r: 'ran').register(trigger='t')"
LINEAR = case("ONNX").blob
SCRIPT = "def f(tensors: List[Tensor], keys: List[str], args: List[str]):\n    return tensors[0] + 1\n"

# The dangerous commands: each loads code or configures the server.
DANGEROUS = [
    ("ai.modelstore", ["AI.MODELSTORE", "m2", "ONNX", "CPU", "BLOB", LINEAR]),
    ("ai.modelset", ["AI.MODELSET", "m2", "ONNX", "CPU", "BLOB", LINEAR]),
    ("ai.scriptstore", ["AI.SCRIPTSTORE", "s2", "CPU", "ENTRY_POINTS", 1, "f", "SOURCE", SCRIPT]),
    ("ai.scriptset", ["AI.SCRIPTSET", "s2", "CPU", "SOURCE", SCRIPT]),
    ("ai.config", ["AI.CONFIG", "BACKENDSPATH", "/tmp"]),
    ("rg.pyexecute", ["RG.PYEXECUTE", "GB().run()"]),
    ("rg._script", ["RG._SCRIPT", "DROP", "x"]),
    ("rg.configset", ["RG.CONFIGSET", "MaxExecutions", "10"]),
    ("rg.pyimportreq", ["RG.PYIMPORTREQ", "x"]),
]


@pytest.fixture
def both(server_factory):
    path, args = host_module()
    srv = server_factory(modules=[(path, list(args)), (ENGINE, [])])
    admin = srv.client(decode_responses=True)
    admin.execute_command("ACL", "SETUSER", "ops", "on", ">pw", "~*", "+@all", "-@dangerous")
    ops = srv.client(decode_responses=True, username="ops", password="pw")
    return srv, admin, ops


def categories(c, cmd):
    """The ACL categories the server reports for `cmd` (none for module
    commands on Redis 7.0, which has no API for them)."""
    return c.execute_command("COMMAND", "INFO", cmd)[cmd]["acl_categories"]


def test_dangerous_commands_are_refused_to_a_user_without_dangerous(both):
    srv, admin, ops = both
    # The text the server gives for its own dangerous command (Redis and
    # Valkey word it differently).
    config_set = error_of(ops, "CONFIG", "SET", "maxmemory", "0")
    assert "no permissions to run the 'config|set' command" in config_set
    for name, cmd in DANGEROUS:
        assert error_of(ops, *cmd) == config_set.replace("config|set", name), name
        assert "@dangerous" in categories(admin, name) or not categories(admin, name)
    assert admin.execute_command("AI.CONFIG", "GET", "BACKENDSPATH") != "/tmp"
    assert admin.exists("m2", "s2") == 0
    entry = admin.execute_command("ACL", "LOG", 1)[0]
    assert dict(zip(entry[::2], entry[1::2]))["username"] == "ops"


@needs_torch
def test_the_other_commands_still_work_for_that_user(both):
    srv, admin, ops = both
    admin.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LINEAR)
    store(admin, "s", entry_points=["f"], source=SCRIPT)
    assert pyexecute(admin, FLOW) == "OK"
    x = np.array([[1, 2, 3]], dtype=np.float32)
    assert ops.execute_command("AI.TENSORSET", "x", "FLOAT", 1, 3, "BLOB", x.tobytes()) == "OK"
    assert ops.execute_command("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y") == "OK"
    assert ops.execute_command("AI.SCRIPTEXECUTE", "s", "f", "INPUTS", 1, "x", "OUTPUTS", 1, "z") == "OK"
    assert ops.execute_command("AI.TENSORGET", "z", "VALUES") == ["2", "3", "4"]
    assert ops.execute_command("AI.DAGEXECUTE", "LOAD", 1, "x", "|>", "AI.TENSORGET", "x", "VALUES")
    assert trigger(ops, "t") == ["ran"]
    assert ops.execute_command("AI.MODELGET", "m", "META")
    assert ops.execute_command("AI.INFO", "m")
    assert ops.execute_command("RG.DUMPREGISTRATIONS")
    assert ops.execute_command("RG.PYDUMPREQS") == []
    assert error_of(ops, "RG.PYEXPORTREQ", "nosuch") == "requirement does not exists"


def test_the_default_user_is_unaffected(both):
    srv, admin, ops = both
    assert admin.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LINEAR) == "OK"
    assert admin.execute_command("AI.CONFIG", "MODEL_CHUNK_SIZE", 1 << 20) == "OK"
    assert pyexecute(admin, FLOW) == "OK"
    assert trigger(admin, "t") == ["ran"]


def test_a_user_allowed_config_set_may_run_them(both):
    srv, admin, ops = both
    if categories(admin, "ai.config"):
        pytest.skip("the server has ACL categories for module commands: the 7.0 fallback is not used")
    admin.execute_command("ACL", "SETUSER", "ops", "+config|set")
    assert ops.execute_command("AI.CONFIG", "MODEL_CHUNK_SIZE", 1 << 20) == "OK"
    assert pyexecute(ops, FLOW) == "OK"


def test_scripts_may_not_run_dangerous_commands(both):
    # Inside Lua the module does not know the caller's user: refused to all.
    srv, admin, ops = both
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        admin.execute_command("EVAL", "return redis.call('AI.CONFIG', 'BACKENDSPATH', '/tmp')", 0)
    with pytest.raises(redis.ResponseError, match="not allowed from script"):
        ops.execute_command("EVAL", "return redis.call('RG.PYEXECUTE', 'GB().run()')", 0)


def test_calls_with_no_client_user_keep_full_rights(both, server_factory):
    """The replication link and a module's own calls (a flow's execute) run
    dangerous commands as before (7.0's GetCurrentUserName crashed there)."""
    srv, admin, ops = both
    reply = pyexecute(admin, "GB('ShardsIDReader').map(lambda x: execute('AI.CONFIG', 'MODEL_CHUNK_SIZE', "
                             "'2097152')).run()")
    assert reply == [["OK"], []]
    assert admin.execute_command("AI.CONFIG", "GET", "MODEL_CHUNK_SIZE") == 2097152
    master = server_factory(tcp=True)
    replica = server_factory(config=[("replicaof", "127.0.0.1", master.port)])
    replica.wait_synced()
    m = master.client()
    m.execute_command("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", LINEAR)
    m.execute_command("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "f", "SOURCE", SCRIPT)
    assert m.execute_command("WAIT", 1, 10000) == 1
    rr = replica.client()
    assert rr.type("m") == b"AI__MODEL" and rr.type("s") == b"AI_SCRIPT"
