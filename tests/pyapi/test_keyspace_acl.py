"""The redisAI key functions act with the rights of the flow's user, as
execute() does: a key its ACL user may not read (getTensorFromKey,
mgetTensorsFromKeyspace) or write (setTensorInKey, msetTensorsInKeyspace)
is refused with the text redis.pcall gives in Lua, and nothing is written.
Over maxmemory, writes are refused with Redis's OOM error; reads go on."""
from support.flows import ev
from support.runner_flows import onnx_model, store_script

T = "redisAI.createTensorFromValues('FLOAT', [2], [1.0, 2.0])"


def as_user(srv, name):
    u = srv.client(protocol=2, decode_responses=True)
    u.execute_command("AUTH", name, "x")
    return u


def lua_error(srv, user, *cmd):
    """'GE:' and the error redis.pcall(cmd) gives `user` in EVAL."""
    args = ", ".join("'%s'" % a for a in cmd)
    return "GE:" + as_user(srv, user).eval("local r = redis.pcall(%s); return r['err']" % args, 0)


def setup_users(c):
    c.execute_command("AI.TENSORSET", "secret:t", "FLOAT", 2, "VALUES", 7, 8)
    c.execute_command("AI.TENSORSET", "pub:t", "FLOAT", 2, "VALUES", 1, 2)
    c.execute_command("AI.TENSORSET", "ro:t", "FLOAT", 2, "VALUES", 3, 4)
    for name in ("pub", "lua"):  # the flow's user, and the same rights for EVAL
        c.execute_command("ACL", "SETUSER", name, "on", "nopass", "~pub:*", "%R~ro:*", "+@all", "-@dangerous")


def test_key_functions_obey_the_callers_acl(ai):
    srv, c = ai
    setup_users(c)
    pub = as_user(srv, "pub")
    denied = lua_error(srv, "lua", "GET", "secret:t")
    # the server's own wording: Redis 7.0's, or Redis 7.2+ and Valkey's
    assert "access at least one of the keys" in denied or "No permissions to access a key" in denied
    # reads
    assert ev(pub, "result = redisAI.tensorToFlatList(redisAI.getTensorFromKey('pub:t'))") == "OK:[1.0, 2.0]"
    assert ev(pub, "result = redisAI.tensorToFlatList(redisAI.getTensorFromKey('ro:t'))") == "OK:[3.0, 4.0]"
    c.execute_command("ACL", "LOG", "RESET")
    assert ev(pub, "result = redisAI.getTensorFromKey('secret:t')") == denied
    [entry] = [dict(zip(e[::2], e[1::2])) for e in c.execute_command("ACL", "LOG")]
    assert (entry[b"reason"], entry[b"object"], entry[b"username"]) == (b"key", b"secret:t", b"pub")
    assert ev(pub, "result = redisAI.mgetTensorsFromKeyspace(['pub:t', 'secret:t'])") == denied
    # writes: a key it may only read is refused too, and nothing is written
    assert ev(pub, "redisAI.setTensorInKey('pub:u', %s)" % T) == "OK:None"
    assert ev(pub, "redisAI.setTensorInKey('secret:u', %s)" % T) == denied
    assert ev(pub, "redisAI.setTensorInKey('ro:t', %s)" % T) == lua_error(srv, "lua", "SET", "ro:t", "x")
    assert ev(pub, "redisAI.msetTensorsInKeyspace({'pub:v': %s, 'secret:v': %s})" % (T, T)) == denied
    assert c.exists("secret:u", "pub:v", "secret:v") == 0
    assert c.execute_command("AI.TENSORGET", "ro:t", "VALUES") == [b"3", b"4"]
    # the default user may do all of it
    assert ev(c, "result = redisAI.tensorToFlatList(redisAI.getTensorFromKey('secret:t'))") == "OK:[7.0, 8.0]"
    assert ev(c, "redisAI.setTensorInKey('secret:u', %s)" % T) == "OK:None"


def test_key_writes_refused_over_maxmemory(ai):
    srv, c = ai
    c.execute_command("AI.TENSORSET", "t", "FLOAT", 2, "VALUES", 1, 2)
    c.config_set("maxmemory", 1)  # below what the server uses already
    try:
        oom = "GE:" + c.eval("local r = redis.pcall('SET', 'x', 'y'); return r['err']", 0).decode()
        assert oom == "GE:OOM command not allowed when used memory > 'maxmemory'."
        assert ev(c, "redisAI.setTensorInKey('u', %s)" % T) == oom
        assert ev(c, "redisAI.msetTensorsInKeyspace({'v': %s})" % T) == oom
        assert ev(c, "result = redisAI.tensorToFlatList(redisAI.getTensorFromKey('t'))") == "OK:[1.0, 2.0]"
        assert c.exists("u", "v") == 0
    finally:
        c.config_set("maxmemory", 0)
    assert ev(c, "redisAI.setTensorInKey('u', %s)" % T) == "OK:None"


def test_runners_need_read_access_to_their_model_or_script(ai):
    srv, c = ai
    setup_users(c)
    assert c.execute_command("AI.MODELSTORE", "secret:m", "ONNX", "CPU", "BLOB", onnx_model("linear")) == b"OK"
    assert c.execute_command("AI.MODELSTORE", "pub:m", "ONNX", "CPU", "BLOB", onnx_model("linear")) == b"OK"
    store_script(c, "secret:s")
    store_script(c, "pub:s")
    pub = as_user(srv, "pub")
    denied = lua_error(srv, "lua", "GET", "secret:m")
    for code in ("redisAI.createModelRunner('secret:m')",
                 "redisAI.createScriptRunner('secret:s', 'multiply')",
                 "redisAI.createDAGRunner().ModelRun(name='secret:m', inputs=['x'], outputs=['y'])",
                 "redisAI.createDAGRunner().ScriptRun(name='secret:s', func='multiply', inputs=['a'],"
                 " outputs=['y'])",
                 "redisAI.createDAGRunner().OpsFromString("
                 "'|> AI.TENSORSET x FLOAT 1 3 VALUES 1 2 3 |>  ai.modelexecute  secret:m INPUTS 1 x OUTPUTS 1 y')",
                 "redisAI.createDAGRunner().OpsFromString("
                 "'|> AI.SCRIPTEXECUTE secret:s multiply INPUTS 2 a b OUTPUTS 1 y')"):
        assert ev(pub, "result = " + code) == denied, code
        assert ev(c, "result = type(%s).__name__" % code).startswith("OK:"), code
    assert ev(pub, "result = type(redisAI.createModelRunner('pub:m')).__name__") == "OK:'PyGraphRunner'"
    assert ev(pub, "result = type(redisAI.createDAGRunner().OpsFromString("
                   "'|> AI.MODELEXECUTE pub:m INPUTS 1 x OUTPUTS 1 y')).__name__") == "OK:'PyDAGRunner'"
    assert ev(pub, "result = type(redisAI.createScriptRunner('pub:s', 'multiply')).__name__") == \
        "OK:'PyTorchScriptRunner'"
