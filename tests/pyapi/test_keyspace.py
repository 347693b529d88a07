"""redisAI keyspace functions inside flows: set/mset/get/mget, their errors,
all-or-nothing, sharing, replication, persistence (RDB and AOF) and
keyspace notifications."""
import time

import pytest

from support.server import RedisServer

from support.flows import ENGINE, ev, gears_error, host_module, ok, register_ev

R = "import redisAI as ai\n"


def tget(c, key):
    return c.execute_command("AI.TENSORGET", key, "META", "VALUES")


def test_set_then_client_reads(ai):
    _, c = ai
    assert ok(c, R + "t = ai.createTensorFromValues('INT32', [2, 2], [1, -2, 3, 4])\n"
                     "result = ai.setTensorInKey('k{1}', t)") is None
    assert tget(c, "k{1}") == [b"dtype", b"INT32", b"shape", [2, 2], b"values", [1, -2, 3, 4]]
    # overwrite a tensor key
    ok(c, R + "ai.setTensorInKey('k{1}', ai.createTensorFromValues('FLOAT', [1], [2.0]))")
    assert tget(c, "k{1}") == [b"dtype", b"FLOAT", b"shape", [1], b"values", [b"2"]]


@pytest.mark.parametrize("dtype,values", [
    ("FLOAT", ["1", "2.5"]), ("DOUBLE", ["1", "-2.5"]), ("INT8", ["-1", "7"]), ("UINT8", ["255", "1"]),
    ("INT16", ["-300", "2"]), ("UINT16", ["65535", "0"]), ("INT32", ["-5", "5"]),
    ("INT64", ["-9000000000", "1"]), ("BOOL", ["1", "0"]),
])
@pytest.mark.parametrize("shape", [["2"], ["1", "2"]])
def test_client_set_then_flow_reads(ai, dtype, values, shape):
    _, c = ai
    c.execute_command("AI.TENSORSET", "a", dtype, *shape, "VALUES", *values)
    got = ok(c, R + "t = ai.getTensorFromKey('a')\n"
                    "ai.setTensorInKey('b', t)\n"  # the dtype must survive the round trip
                    "result = (ai.tensorGetDataType(t), ai.tensorGetDims(t), ai.tensorToFlatList(t))")
    assert got[0] == dtype
    assert got[1] == tuple(int(s) for s in shape)
    conv = float if dtype in ("FLOAT", "DOUBLE") else int
    assert got[2] == [conv(v) for v in values]
    assert tget(c, "b")[:4] == tget(c, "a")[:4]
    assert tget(c, "b")[5] == tget(c, "a")[5]


@pytest.mark.parametrize("dtype,value", [("INT8", "-3"), ("UINT8", "200"), ("BOOL", "1"),
                                         ("INT16", "-2"), ("UINT16", "2"), ("UINT8", "1")])
def test_scalar_small_int_dtypes(ai, dtype, value):
    _, c = ai
    c.execute_command("AI.TENSORSET", "s", dtype, "VALUES", value)
    assert ok(c, R + "t = ai.getTensorFromKey('s')\n"
                     "result = (ai.tensorGetDataType(t), ai.tensorGetDims(t), ai.tensorToFlatList(t))") == \
        (dtype, (), [int(value)])


def test_string_tensor_key_is_refused(ai):
    _, c = ai
    c.execute_command("AI.TENSORSET", "s", "STRING", "2", "VALUES", "a", "b")
    assert gears_error(c, R + "ai.getTensorFromKey('s')") == \
        "STRING tensors are not supported by the redisAI Python API"


def test_shared_not_copied(ai):
    _, c = ai
    # Two reads of one key give the same engine buffer (shallow copies).
    c.execute_command("AI.TENSORSET", "a", "FLOAT", "2", "VALUES", "1", "2")
    assert ok(c, R + "x = ai.getTensorFromKey('a'); y = ai.getTensorFromKey('a')\n"
                     "result = np.asarray(x).__array_interface__['data'][0] == "
                     "np.asarray(y).__array_interface__['data'][0]") is True
    # The key shares the tensor set from the flow: reading it back gives the same buffer.
    assert ok(c, R + "t = ai.createTensorFromValues('FLOAT', [1], [1.0])\nai.setTensorInKey('z', t)\n"
                     "result = np.asarray(t).__array_interface__['data'][0] == "
                     "np.asarray(ai.getTensorFromKey('z')).__array_interface__['data'][0]") is True
    # A tensor held by the flow outlives the key it came from.
    assert ok(c, R + "t = ai.getTensorFromKey('a')\nredisgears.executeCommand('DEL', 'a')\n"
                     "result = ai.tensorToFlatList(t)") == [1.0, 2.0]


SET_ERRORS = [
    ("ai.setTensorInKey('k')", "Wrong number of arguments given to setTensorInKey"),
    ("ai.setTensorInKey(1, T)", "key name argument must be a string"),
    ("ai.setTensorInKey('k', 1)", "Given argument is not of type PyTensor"),
    ("ai.setTensorInKey('str', T)", "ERR Key is already set with non tensor values."),
    ("ai.setTensorInKey('lst', T)", "ERR Key is already set with non tensor values."),
    ("ai.msetTensorsInKeyspace()", "Wrong number of arguments given to msetTensorInKeyspace"),
    ("ai.msetTensorsInKeyspace([('k', T)])", "Given argument is not of type PyDict"),
    ("ai.msetTensorsInKeyspace({'k': T, 2: T})", "key name argument must be a string"),
    ("ai.msetTensorsInKeyspace({'k': T, 'k2': 2})", "Given argument is not of type PyTensor"),
    ("ai.msetTensorsInKeyspace({'k': T, 'str': T})", "ERR Key is already set with non tensor values."),
    ("ai.getTensorFromKey()", "Wrong number of arguments given to getTensorFromKey"),
    ("ai.getTensorFromKey(b'k')", "key name argument must be a string"),
    ("ai.getTensorFromKey('missing')", "ERR tensor key is empty"),
    ("ai.getTensorFromKey('str')", "ERR key is not a tensor"),
    ("ai.mgetTensorsFromKeyspace('a', 'b')", "Wrong number of arguments given to getTensorsFromKeyspace"),
    ("ai.mgetTensorsFromKeyspace(3)", "keys argument must be iterable"),
    ("ai.mgetTensorsFromKeyspace(['t', 3])", "key name argument must be a string"),
    ("ai.mgetTensorsFromKeyspace(['t', 'missing'])", "ERR tensor key is empty"),
    ("ai.mgetTensorsFromKeyspace(['t', 'lst'])", "ERR key is not a tensor"),
]


@pytest.mark.parametrize("code,msg", SET_ERRORS)
def test_keyspace_errors(ai, code, msg):
    _, c = ai
    c.set("str", "v")
    c.rpush("lst", "v")
    c.execute_command("AI.TENSORSET", "t", "FLOAT", "1", "VALUES", "1")
    assert gears_error(c, R + "T = ai.createTensorFromValues('FLOAT', [1], [5.0])\n" + code) == msg
    # nothing was written by the failed call (all-or-nothing), and the lock was released
    assert c.exists("k", "k2") == 0
    assert c.get("str") == b"v"
    assert ok(c, R + "ai.setTensorInKey('after', ai.createTensorFromValues('FLOAT', [1], [1.0]))\n"
                     "result = ai.tensorToFlatList(ai.getTensorFromKey('after'))") == [1.0]


def test_mset_mget(ai):
    _, c = ai
    assert ok(c, R + "ai.msetTensorsInKeyspace({'x{1}': ai.createTensorFromValues('FLOAT', [2], [1.0, 2.0]),"
                     " 'y{1}': ai.createTensorFromBlob('INT8', [2], bytes([3, 4]))})") is None
    assert tget(c, "y{1}") == [b"dtype", b"INT8", b"shape", [2], b"values", [3, 4]]
    assert ok(c, R + "result = [ai.tensorToFlatList(t) for t in "
                     "ai.mgetTensorsFromKeyspace(iter(['x{1}', 'y{1}', 'x{1}']))]") == \
        [[1.0, 2.0], [3, 4], [1.0, 2.0]]
    assert ok(c, R + "result = (ai.mgetTensorsFromKeyspace([]), ai.msetTensorsInKeyspace({}))") == ([], None)


def test_keyspace_notification(ai):
    srv, c = ai
    c.config_set("notify-keyspace-events", "KEA")
    sub = srv.client(protocol=2).pubsub()
    sub.psubscribe("__keyspace@0__:n*")
    assert sub.get_message(timeout=5)["type"] == "psubscribe"
    ok(c, R + "ai.setTensorInKey('n1', ai.createTensorFromValues('FLOAT', [1], [1.0]))\n"
              "ai.msetTensorsInKeyspace({'n2': ai.createTensorFromValues('FLOAT', [1], [1.0])})")
    got = []
    deadline = time.time() + 10
    while len(got) < 2 and time.time() < deadline:
        m = sub.get_message(timeout=1)
        if m and m["type"] == "pmessage":
            got.append((m["channel"], m["data"]))
    assert got == [(b"__keyspace@0__:n1", b"ai.tensorset"), (b"__keyspace@0__:n2", b"ai.tensorset")]
    sub.close()


WRITE = R + ("ai.setTensorInKey('p{1}', ai.createTensorFromValues('DOUBLE', [2, 2], [1.0, 2.0, 3.0, 4.5]))\n"
             "ai.msetTensorsInKeyspace({'q{1}': ai.createTensorFromBlob('UINT8', [3], bytes([7, 8, 255])),"
             " 'r{1}': ai.createTensorFromValues('BOOL', [], [1])})\n"
             "ai.setTensorInKey('c{1}', ai.getTensorFromKey('q{1}'))")
EXPECTED = {
    "p{1}": [b"dtype", b"DOUBLE", b"shape", [2, 2], b"values", [b"1", b"2", b"3", b"4.5"]],
    "q{1}": [b"dtype", b"UINT8", b"shape", [3], b"values", [7, 8, 255]],
    "r{1}": [b"dtype", b"BOOL", b"shape", [], b"values", [1]],
    "c{1}": [b"dtype", b"UINT8", b"shape", [3], b"values", [7, 8, 255]],
}


def check_written(c):
    for k, v in EXPECTED.items():
        assert tget(c, k) == v, k


def test_writes_survive_rdb_restart(ai):
    srv, c = ai
    ok(c, WRITE)
    assert c.save()
    srv.restart()
    check_written(srv.client(protocol=2))


def test_writes_reach_aof(start_ai):
    srv, c = start_ai(config=[("appendonly", "yes"), ("appendfsync", "always")])
    ok(c, WRITE)
    # The AOF holds AI.TENSORSET commands (not just an RDB preamble): restart
    # with the AOF only, no RDB file.
    srv.restart()
    c2 = srv.client(protocol=2)
    check_written(c2)


def test_writes_reach_replica(server_factory, start_ai):
    srv, c = start_ai(tcp=True)
    rep = server_factory(modules=[host_module(), (ENGINE, [])],
                         config=[("replicaof", "127.0.0.1", srv.port)])
    rc = rep.client(protocol=2)
    rep.wait_synced()
    ok(c, WRITE)
    assert c.execute_command("WAIT", 1, 10000) == 1
    check_written(rc)
