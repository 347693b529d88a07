"""execute() (spec §9): reply mapping, arguments, errors, replication and
AOF from every thread a flow runs on; log(): levels and the server log."""

import pytest

from support.flows import ENGINE, host_module, pyexecute, trigger
from support.server import ON_VALKEY

EV = r'''
import redisgears
def ev(r):
    try:
        return repr(eval(r[1]))
    except GearsError as e:
        return 'GearsError: %s' % e
    except Exception as e:
        return '%s: %s' % (type(e).__name__, e)
GB('CommandReader').map(ev).register(trigger='ev')
GB('CommandReader').map(ev).register(trigger='ev_sync', mode='sync')
'''


def ev(c, expr):
    [r] = trigger(c, "ev", expr)
    return r


@pytest.fixture
def evhost(host):
    srv, c = host
    pyexecute(c, EV)
    return srv, c


def test_reply_mapping(evhost):
    srv, c = evhost
    c.rpush("l", "a", "b")
    raw = srv.client()
    raw.set("bin", b"\xff\xfeA")
    c.hset("h", "f", "v")
    c.xadd("s", {"f": "v"}, id="1-1")
    assert ev(c, "execute('SET', 'k', 'v')") == "'OK'"
    assert ev(c, "execute('GET', 'k')") == "'v'"
    assert ev(c, "execute('GET', 'missing')") == "None"
    assert ev(c, "execute('INCR', 'n')") == "1"
    assert ev(c, "execute('LRANGE', 'l', 0, -1)") == "['a', 'b']"
    assert ev(c, "execute('LRANGE', 'missing', 0, -1)") == "[]"
    assert ev(c, "execute('GET', 'bin')") == "bytearray(b'\\xff\\xfeA')"
    assert ev(c, "execute('HGETALL', 'h')") == "['f', 'v']"
    assert ev(c, "execute('XRANGE', 's', '-', '+')") == "[['1-1', ['f', 'v']]]"
    assert ev(c, "execute('PING')") == "'PONG'"
    assert ev(c, "execute('set', 'lower', 'case')") == "'OK'"


def test_arguments(evhost):
    srv, c = evhost
    raw = srv.client()
    assert ev(c, "execute('SET', 'i', 12)") == "'OK'"
    assert c.get("i") == "12"
    assert ev(c, "execute('SET', b'b', bytearray(b'\\x00\\xff'))") == "'OK'"
    assert raw.get("b") == b"\x00\xff"
    assert ev(c, "execute('SET', 'f', 1.5)") == "'OK'"
    assert c.get("f") == "1.5"
    assert ev(c, "execute('SET', 'u', 'é')") == "'OK'"
    assert raw.get("u") == "é".encode()
    assert ev(c, "redisgears.executeCommand('GET', 'u')") == "'é'"


@pytest.mark.parametrize("expr,text", [
    ("execute(1)", "GearsError: the given command must be a string"),
    ("execute(b'GET', 'k')", "GearsError: the given command must be a string"),
    ("execute()", "GearsError: the given command must be a string"),
    ("execute('INCR', 's')", "GearsError: ERR value is not an integer or out of range"),
    ("execute('LPUSH', 's', 'x')",
     "GearsError: WRONGTYPE Operation against a key holding the wrong kind of value"),
    ("execute('NOSUCHCMD')", "GearsError: ERR unknown command"),
    ("execute('GET')", "GearsError: ERR wrong number of arguments or bad arguments"),
])
def test_errors(evhost, expr, text):
    _, c = evhost
    c.set("s", "text")
    assert ev(c, expr) == text
    assert c.get("s") == "text"


@pytest.mark.parametrize("name", ["ev", "ev_sync"])
@pytest.mark.parametrize("args", [("WAIT", "1", "100"), ("SYNC",), ("psync", "?", "-1"),
                                  ("CLIENT", "KILL", "TYPE", "normal"), ("client", "kill", "type", "normal"),
                                  ("MULTI",), ("HELLO", "3"), ("hello", "2", "SETNAME", "x")])
def test_connection_only_commands_are_refused(evhost, name, args):
    # Called from a flow, WAIT and SYNC tripped Redis assertions, PSYNC and
    # (sync) CLIENT KILL of the caller crashed the server.
    _, c = evhost
    [r] = trigger(c, name, "execute(%s)" % ", ".join(repr(a) for a in args))
    assert r == "GearsError: ERR command '%s' can not be called from a flow" % args[0]
    assert c.ping()
    # other admin commands still run, as in the original
    [r] = trigger(c, name, "execute('CONFIG', 'GET', 'maxmemory-policy')")
    assert r == "['maxmemory-policy', 'noeviction']"
    # HELLO alone runs; Valkey 8.1 refuses it to module clients (not authenticated)
    [r] = trigger(c, name, "dict(zip(*[iter(execute('HELLO'))] * 2))['proto']")
    if ON_VALKEY:
        assert r.startswith("GearsError: NOAUTH HELLO must be called with the client already authenticated")
    else:
        assert r == "2"


WRITERS = r'''
import asyncio
async def on_loop(r):
    await asyncio.sleep(0.001)
    return execute('SET', r[1] + ':loop', 'l')
def in_atomic(r):
    with atomic():
        execute('SET', r[1] + ':atomic', 'a')
        return execute('INCR', r[1] + ':atomic:n')
GB('CommandReader').map(lambda r: execute('SET', r[1] + ':pool', 'p')).register(trigger='pool')
GB('CommandReader').map(lambda r: execute('SET', r[1] + ':main', 'm')).register(trigger='main', mode='sync')
GB('CommandReader').map(on_loop).register(trigger='loop')
GB('CommandReader').map(in_atomic).register(trigger='atomic')
'''
WRITTEN = {"w:pool": "p", "w:main": "m", "w:loop": "l", "w:atomic": "a", "w:atomic:n": "1"}


def write_everywhere(c):
    assert pyexecute(c, WRITERS) == "OK"
    for t in ("pool", "main", "loop", "atomic"):
        trigger(c, t, "w")


def test_writes_reach_replica(server_factory, start_host):
    srv, c = start_host(tcp=True)
    rep = server_factory(modules=[host_module(), (ENGINE, [])],
                         config=[("replicaof", "127.0.0.1", srv.port)])
    rc = rep.client(decode_responses=True)
    rep.wait_synced()
    write_everywhere(c)
    assert c.execute_command("WAIT", 1, 10000) == 1
    assert {k: rc.get(k) for k in WRITTEN} == WRITTEN
    # RG.TRIGGER itself is not replicated: only the writes it made
    assert rc.get("w:pool") == "p" and rc.dbsize() == len(WRITTEN)


def test_writes_reach_aof(start_host):
    srv, c = start_host(config=[("appendonly", "yes"), ("appendfsync", "always")])
    write_everywhere(c)
    srv.restart()  # no RDB file: the data comes back from the AOF alone
    c2 = srv.client(decode_responses=True)
    assert {k: c2.get(k) for k in WRITTEN} == WRITTEN


def test_log(start_host):
    srv, c = start_host(config=[("loglevel", "debug")])
    pyexecute(c, EV)
    for level in ("debug", "verbose", "notice", "warning"):
        assert ev(c, "log('msg at %s', level=%r)" % (level, level)) == "None"
    assert ev(c, "log('default level')") == "None"
    assert ev(c, "redisgears.log(12345)") == "None"
    assert ev(c, "log('x', level='info')") == \
        "GearsError: Log level should be one of the following : debug,verbose,notice,warning"
    assert ev(c, "log('x', 'WARNING')") == \
        "GearsError: Log level should be one of the following : debug,verbose,notice,warning"
    with open(srv.logfile) as f:
        text = f.read()
    for line in ("GEARS: msg at debug", "GEARS: msg at verbose", "GEARS: msg at notice",
                 "GEARS: msg at warning", "GEARS: default level", "GEARS: 12345"):
        assert line in text
    assert "GEARS: x" not in text


def test_log_respects_server_loglevel(start_host):
    srv, c = start_host(config=[("loglevel", "warning")])
    pyexecute(c, EV)
    ev(c, "log('quiet one', level='notice')")
    ev(c, "log('loud one', level='warning')")
    with open(srv.logfile) as f:
        text = f.read()
    assert "GEARS: loud one" in text and "GEARS: quiet one" not in text


def test_execute_from_pyexecute_and_nested_trigger(evhost):
    _, c = evhost
    # top-level script code runs on the main thread inside the command
    assert pyexecute(c, "execute('SET', 'top', 'level')") == "OK"
    assert c.get("top") == "level"
    pyexecute(c, "GB('CommandReader').map(lambda r: 'inner ' + r[1]).register(trigger='inner', mode='sync')\n"
                 "GB('CommandReader').map(lambda r: 'x').register(trigger='inner_async')")
    # a flow may call a sync flow; an async one can not block there
    assert ev(c, "execute('RG.TRIGGER', 'inner', 'arg')") == "['inner arg']"
    assert ev(c, "execute('RG.TRIGGER', 'inner_async')") == (
        "GearsError: ERR can not run a non-sync execution inside a MULTI/LUA "
        "(blocking is not allowed) or on loading.")
