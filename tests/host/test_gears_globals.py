"""Flows written for RedisGears 1.2 find its names (issue 18, item 1): the
module `redisgears` (alias `rg`) and its functions, their aliases, the
deprecated spellings, and the modules its runtime imported into every
session's globals; GB('ShardsIDReader') answers '1' outside a cluster
(item 6)."""
import time

from support.flows import pyexecute, trigger

MODULE_FUNCTIONS = ["executeCommand", "callNext", "getCommand", "overrideReply", "atomicCtx",
                    "getMyHashTag", "registerTimeEvent", "gearsCtx", "gearsFutureCtx", "log",
                    "config_get", "isInAtomicBlock", "isAsyncAllow", "flatError",
                    "registerGearsThread", "getGearsSession", "setGearsSession", "PyFlatExecution"]
GLOBALS = ["redisgears", "rg", "execute", "call_next", "get_command", "override_reply", "atomic",
           "hashtag", "registerTE", "gearsCtx", "gearsFuture", "log", "configGet", "gearsConfigGet",
           "isAsyncAllow", "flat_error", "GearsBuilder", "GB", "createKeysOnlyReader", "GearsSession",
           "GearsFuture", "createFuture", "setFutureResults", "setFutureException", "runCoroutine",
           "loop", "Log", "ConfigGet", "GearsConfigGet", "asyncio", "Future", "Thread", "copy", "io",
           "cProfile", "pstats", "sys", "traceback", "pickle", "itertools"]


def wait_for(cond, what, timeout=10):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, what
        time.sleep(0.01)


def test_execute_command_through_the_module(host):
    """The issue's example."""
    _, c = host
    assert pyexecute(c, "GB('ShardsIDReader').map(lambda x: redisgears.executeCommand('PING')).run()") == \
        [["PONG"], []]


def test_shards_id_reader_outside_a_cluster(host):
    _, c = host
    assert pyexecute(c, "GB('ShardsIDReader').run()") == [["1"], []]


def test_every_name_is_there(host):
    _, c = host
    code = ("missing = [n for n in %r if n not in globals()]\n"
            "missing += ['redisgears.' + n for n in %r if not hasattr(redisgears, n)]\n"
            "GB('ShardsIDReader').map(lambda x: [missing, rg is redisgears, execute is rg.executeCommand,"
            " GB is GearsBuilder, Future is asyncio.Future, "
            "isinstance(loop, asyncio.AbstractEventLoop)]).run()" % (GLOBALS, MODULE_FUNCTIONS))
    assert pyexecute(c, code) == [["[[], True, True, True, True, True]"], []]


def test_module_functions_work_or_say_not_supported(host):
    _, c = host
    c.set("k:1", "a")
    c.set("k:2", "b")
    code = r'''
def check(_):
    out = [redisgears.getMyHashTag() == hashtag(), redisgears.isInAtomicBlock()]
    with redisgears.atomicCtx():
        out.append(redisgears.isInAtomicBlock())
    out.append(redisgears.config_get('MaxExecutions'))
    out.append(redisgears.isAsyncAllow())
    out.append(isinstance(redisgears.flatError('x'), Exception))
    out.append(redisgears.registerGearsThread())
    s = redisgears.getGearsSession()
    redisgears.setGearsSession(s)
    with GearsSession(s):
        out.append(redisgears.getGearsSession() is s)
    out.append(isinstance(redisgears.gearsCtx('PythonReader'), redisgears.PyFlatExecution))
    try:
        redisgears.registerTimeEvent(1, lambda: None)
    except GearsError as e:
        out.append(str(e))
    try:
        redisgears.getCommand()
    except GearsError as e:
        out.append(str(e))
    return out
GB('ShardsIDReader').map(check).run()
'''
    assert pyexecute(c, code) == [[
        "[True, False, True, 1000, True, True, None, True, True, "
        "'registerTimeEvent is not supported by this host', "
        "'get_command can only be called from the flow of a command hook']"], []]
    keys = pyexecute(c, "GB('PythonReader').run(createKeysOnlyReader('k:*'))")
    assert sorted(keys[0]) == ["k:1", "k:2"] and keys[1] == []
    assert pyexecute(c, "GB('PythonReader').run(createKeysOnlyReader('k:1', noScan=True))") == [["k:1"], []]


def test_hook_get_command_and_call_next_aliases(host):
    _, c = host
    code = ("def h(r):\n"
            "    rg.overrideReply(str(redisgears.getCommand()) + ' ' + str(redisgears.callNext(*r[1:])))\n"
            "GB('CommandReader').map(h).register(hook='get', keyprefix='hk', mode='sync')")
    c.set("hk1", "v")
    assert pyexecute(c, code) == "OK"
    assert c.get("hk1") == "['GET', 'hk1'] v"  # as the client sent it


def test_raw_gears_ctx_stream_flow_with_deprecated_log(host):
    """The shape of the public video demos' flows: gearsCtx('StreamReader')
    calling redisgears.executeCommand, and the deprecated Log."""
    srv, c = host
    code = r'''
def copy_frame(x):
    Log('frame %s' % x['value']['n'])
    redisgears.executeCommand('XADD', 'out:' + x['key'], '*', 'n', x['value']['n'])
    return x
gearsCtx('StreamReader').map(copy_frame).register('camera:*')
'''
    assert pyexecute(c, code) == "OK"
    c.xadd("camera:0", {"n": "7"})
    c.xadd("camera:0", {"n": "8"})
    wait_for(lambda: c.xlen("out:camera:0") == 2, "the flow did not copy the entries")
    # one async execution per entry: they may end in either order
    assert sorted(f["n"] for _, f in c.xrange("out:camera:0")) == ["7", "8"]
    with open(srv.logfile) as f:
        log = f.read()
    assert "GEARS: frame 7" in log and "GEARS: frame 8" in log
    assert log.count("GEARS: Log is deprecated, use log instead") == 1  # once, not per call


def test_deprecated_config_getters_work(host):
    srv, c = host
    code = "GB('ShardsIDReader').map(lambda x: [ConfigGet('MaxExecutions'), GearsConfigGet('Nope', 5)]).run()"
    assert pyexecute(c, code) == [["[1000, 5]"], []]
    with open(srv.logfile) as f:
        log = f.read()
    assert "ConfigGet is deprecated, use configGet instead" in log
    assert "GearsConfigGet is deprecated, use gearsConfigGet instead" in log
