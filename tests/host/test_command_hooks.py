"""CommandReader hooks (spec §9): register(hook=cmd, keyprefix=...) takes a
Redis command over; call_next runs the command itself, override_reply sets
what it replies.  Replicas and the AOF get the effects once."""
import time

import pytest
import redis

from support.flows import ENGINE, error_of, host_module, pyexecute, registrations

# The example of RedisGears' "Commands Hook" page: hset also stamps the hash.
STAMP = r'''
def stamp(r):
    execute('INCR', 'hook_runs')
    return call_next(*(r[1:] + ['_last_modified_', str(execute('time')[0])]))
GB('CommandReader').map(stamp).register(hook='hset', keyprefix='person:', mode=MODE)
'''


def hgetall(c, key):
    h = c.hgetall(key)
    h.pop("_last_modified_", None) and h.setdefault("stamped", "yes")
    return h


@pytest.mark.parametrize("mode", ["sync", "async_local", "async"])
def test_hooked_command_runs_the_flow(host, mode):
    _, c = host
    assert pyexecute(c, STAMP.replace("MODE", repr(mode))) == "OK"
    # the reply is the flow's record: call_next's 2 (fields added), as a string
    assert c.execute_command("HSET", "person:1", "name", "ann") == "2"
    assert hgetall(c, "person:1") == {"name": "ann", "stamped": "yes"}
    # other keys: the command itself, untouched (an integer reply)
    assert c.execute_command("HSET", "car:1", "name", "vw") == 1
    assert c.hgetall("car:1") == {"name": "vw"}
    assert c.get("hook_runs") == "1"
    # any case of the command's name
    assert c.execute_command("hSeT", "person:2", "a", "b") == "2"
    assert c.get("hook_runs") == "2"
    [reg] = registrations(c)
    assert reg["reader"] == "CommandReader" and reg["mode"] == mode
    assert reg["args"] == ["trigger", "hset", "inorder", 0, "keyprefix", "person:"]


REPLIES = r'''
import asyncio

def reply_with(r):
    what = r[1]
    values = {'int': 7, 'str': 'text', 'list': [1, 'two', [3]], 'none': None,
              'error': ValueError('refused by the hook')}
    override_reply(values[what])
    return 'ignored'

async def slow_get(r):
    await asyncio.sleep(0.01)
    value = call_next(r[1])
    return (value or '') + '!'

def fails(r):
    raise flat_error('no writes to ' + r[1])

GB('CommandReader').map(reply_with).register(hook='echo', mode='sync')
GB('CommandReader').map(slow_get).register(hook='get', keyprefix='slow:')
GB('CommandReader').map(fails).register(hook='set', keyprefix='locked:', mode='sync')
GB('CommandReader').flatmap(lambda r: r[1:]).register(hook='exists', keyprefix='many:')
'''


def test_replies(host):
    _, c = host
    assert pyexecute(c, REPLIES) == "OK"
    assert c.execute_command("ECHO", "int") == 7
    assert c.execute_command("ECHO", "str") == "text"
    assert c.execute_command("ECHO", "list") == [1, "two", [3]]
    assert c.execute_command("ECHO", "none") is None
    assert error_of(c, "ECHO", "error") == "refused by the hook"
    # an async step that awaits, then runs the command itself
    c.set("slow:a", "v")
    assert c.execute_command("GET", "slow:a") == "v!"
    assert c.execute_command("GET", "slow:none") == "!"
    # a flow that fails: its error, and the command did not run
    assert error_of(c, "SET", "locked:x", "1") == "no writes to locked:x"
    assert c.exists("locked:x") == 0
    # several records (or none): the list of them
    assert c.execute_command("EXISTS", "many:a", "many:b") == ["many:a", "many:b"]


def test_unregister_gives_the_command_back(host):
    _, c = host
    assert pyexecute(c, STAMP.replace("MODE", "'sync'")) == "OK"
    assert c.execute_command("HSET", "person:1", "a", "b") == "2"
    reg_id = c.execute_command("RG.DUMPREGISTRATIONS")[0][1]
    assert c.execute_command("RG.UNREGISTER", reg_id) == "OK"
    assert c.execute_command("HSET", "person:1", "c", "d") == 1
    assert c.get("hook_runs") == "1"


def test_survives_debug_reload(host):
    _, c = host
    assert pyexecute(c, STAMP.replace("MODE", "'sync'")) == "OK"
    assert c.execute_command("DEBUG", "RELOAD") == "OK"
    assert c.execute_command("HSET", "person:1", "a", "b") == "2"
    assert c.get("hook_runs") == "1"


def test_transactions_and_scripts(host):
    _, c = host
    assert pyexecute(c, STAMP.replace("MODE", "'sync'")) == "OK"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: call_next(*r[1:])).register(hook='lpush')") == "OK"
    p = c.pipeline(transaction=True)
    p.hset("person:1", "a", "b")
    p.execute_command("LPUSH", "l", "x")
    res = p.execute(raise_on_error=False)
    # a sync hook runs inside EXEC; an async one can not block there
    assert res[0] == "2" and "can not run a non-sync execution inside a MULTI/LUA" in str(res[1])
    assert hgetall(c, "person:1") == {"a": "b", "stamped": "yes"} and c.exists("l") == 0
    # Lua: the same rules
    assert c.eval("return redis.call('hset', KEYS[1], 'c', 'd')", 1, "person:2") == "2"
    assert hgetall(c, "person:2") == {"c": "d", "stamped": "yes"}


@pytest.mark.parametrize("hook,extra,text", [
    ("'nosuch'", "", "can not hook nosuch: no such command"),
    ("'multi'", "", "can not hook multi: it only works on the client's own connection"),
    ("'select'", "", "can not hook select: it only works on the client's own connection"),
    ("'RG.TRIGGER'", "", "can not hook rg.trigger: a command of this module"),
    ("'rg._hookw'", "", "can not hook rg._hookw: a command of this module"),
    ("'blmpop'", "", "can not hook blmpop: it may block the client"),
    ("'xread'", "", "can not hook xread: it may block the client"),
    ("'client'", "", "can not hook client: it is a container of subcommands"),
    ("'ping'", ", keyprefix='x'", "can not hook ping: it takes no key, so no keyprefix"),
    ("'zunionstore'", ", keyprefix='x'", "can not hook zunionstore: its keys move, so no keyprefix"),
    ("'get'", ", trigger='t'", "trigger argument can not be given with keyprefix or hook"),
    ("7", "", "hook must be a command name"),
])
def test_registration_errors(host, hook, extra, text):
    _, c = host
    assert error_of(c, "RG.PYEXECUTE",
                    "GB('CommandReader').map(lambda r: 1).register(hook=%s%s)" % (hook, extra)) == text
    assert c.execute_command("RG.DUMPREGISTRATIONS") == []


def test_one_hook_per_command_and_keyprefix(host):
    _, c = host
    code = "GB('CommandReader').map(lambda r: 'hooked').register(hook='get', keyprefix=%r)"
    assert pyexecute(c, code % "a:") == "OK"
    assert error_of(c, "RG.PYEXECUTE", code % "a:") == "the command is already hooked with this keyprefix"
    assert pyexecute(c, code % "b:") == "OK"  # another keyprefix: another hook
    assert [c.get("a:1"), c.get("b:1"), c.get("c:1")] == ["hooked", "hooked", None]


def test_call_next_and_override_reply_outside_a_hook(host):
    _, c = host
    for fn in ("call_next('x')", "override_reply(1)"):
        name = fn.split("(")[0]
        assert error_of(c, "RG.PYEXECUTE", fn) == "%s can only be called from the flow of a command hook" % name
        code = "GB('CommandReader').map(lambda r: %s).register(trigger='t_%s')" % (fn, name)
        assert pyexecute(c, code) == "OK"
        assert "can only be called from the flow of a command hook" in error_of(c, "RG.TRIGGER", "t_" + name)


def test_replica_and_aof_apply_the_effects_once(server_factory, start_host):
    srv, c = start_host(tcp=True, config=[("appendonly", "yes")])
    assert pyexecute(c, STAMP.replace("MODE", "'sync'")) == "OK"
    path, args = host_module()
    rep = server_factory(modules=[(path, args), (ENGINE, [])], config=[("replicaof", "127.0.0.1", srv.port)])
    rc = rep.client(decode_responses=True)
    rep.wait_synced()
    deadline = time.time() + 20
    while not rc.execute_command("RG.DUMPREGISTRATIONS"):  # the hook came with the full sync
        assert time.time() < deadline, "the replica's registrations did not come"
        time.sleep(0.05)
    assert c.execute_command("HSET", "person:1", "a", "b") == "2"
    assert c.execute_command("WAIT", 1, 10000) == 1
    # the replica applied what the master's hook did; its own copy of the hook did not run
    assert rc.hgetall("person:1") == c.hgetall("person:1")
    assert hgetall(rc, "person:1") == {"a": "b", "stamped": "yes"}
    assert rc.get("hook_runs") == "1"
    # a hooked write sent to the replica is refused like the command itself
    with pytest.raises(redis.ReadOnlyError):
        rc.execute_command("HSET", "person:2", "a", "b")
    # the AOF (no RDB preamble rewrite yet: the commands themselves) replays the effects once
    srv.restart()
    c = srv.client(decode_responses=True)
    assert hgetall(c, "person:1") == {"a": "b", "stamped": "yes"}
    assert c.get("hook_runs") == "1"


def test_keyprefix_takes_any_key_of_the_call(host):
    _, c = host
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'DENIED').register(hook='del', keyprefix='person:', "
                        "mode='sync')") == "OK"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'DENIED').register(hook='mset', keyprefix='person:', "
                        "mode='sync')") == "OK"
    c.set("person:1", "x")
    assert c.execute_command("DEL", "other", "person:1") == "DENIED"
    c.execute_command("MSET", "a", "1", "person:2", "v")  # replies 'DENIED' (redis-py reads it as a bool)
    assert c.get("person:1") == "x" and c.exists("a", "person:2") == 0
    assert c.execute_command("DEL", "other") == 0  # no key of it matches: DEL itself


def test_a_call_with_the_wrong_arity_is_left_to_redis(host):
    _, c = host
    assert pyexecute(c, STAMP.replace("MODE", "'sync'")) == "OK"
    assert "wrong number of arguments for 'hset' command" in error_of(c, "HSET", "person:1", "a")
    p = c.pipeline(transaction=True)
    p.set("x", "1")
    p.execute_command("HSET", "person:1", "a")
    with pytest.raises(redis.ResponseError) as e:
        p.execute()
    assert "wrong number of arguments for 'hset' command" in str(e.value)
    assert c.exists("x") == 0 and c.get("hook_runs") is None


def test_the_first_of_two_matching_hooks_stays_first(host):
    _, c = host
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'x').register(trigger='unrelated')") == "OK"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'hook a').register(hook='get', keyprefix='a', "
                        "mode='sync')") == "OK"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'hook ab').register(hook='get', keyprefix='ab', "
                        "mode='sync')") == "OK"
    assert c.get("abc") == "hook a"
    unrelated = [r["id"] for r in registrations(c) if r["trigger"] == "unrelated"][0]
    assert c.execute_command("RG.UNREGISTER", unrelated) == "OK"
    assert c.get("abc") == "hook a"


@pytest.mark.parametrize("mode", ["sync", "async_local", "async"])
def test_call_next_runs_in_the_callers_database(host, mode):
    srv, c = host
    assert pyexecute(c, "GB('CommandReader').map(lambda r: call_next(*r[1:])).register(hook='set', "
                        "mode=%r)" % mode) == "OK"
    c3 = srv.client(decode_responses=True, db=3)
    assert c3.set("k", "v")
    assert c3.get("k") == "v" and c.get("k") is None


def test_the_internal_commands_run_hooked_calls_only(host):
    srv, c = host
    for args in (["SYNC"], ["PSYNC", "?", "-1"], ["CLIENT", "KILL", "skipme", "no"], ["SET", "k", "v"]):
        for cmd in ("rg._hookr", "rg._hookw"):
            assert error_of(c, cmd, *args) == "no hook takes this call (unregistered since it was sent?)"
    assert c.ping() and c.exists("k") == 0


def test_acls_of_the_original_command_apply(host):
    srv, c = host
    assert pyexecute(c, STAMP.replace("MODE", "'sync'")) == "OK"
    # the flow acts for the caller too: its INCR and TIME need the caller's rights
    c.execute_command("ACL", "SETUSER", "app", "on", ">pw", "~person:*", "~hook_runs", "+get", "+incr", "+time",
                      "+rg._hookr", "+rg._hookw")
    app = srv.client(decode_responses=True, username="app", password="pw")
    assert "no permissions to run the 'HSET' command on these keys" in error_of(app, "HSET", "person:1", "a", "b")
    c.execute_command("ACL", "SETUSER", "app", "+hset")
    assert app.execute_command("HSET", "person:1", "a", "b") == "2"
    # a key outside ~person:* (Valkey 8.1 words it 'No permissions to access a key')
    assert "no permissions" in error_of(app, "HSET", "other:1", "a", "b").lower()
    assert "no permissions" in error_of(app, "rg._hookr", "ACL", "SETUSER", "app", "+@all").lower()
    assert c.get("hook_runs") == "1"


def test_flows_of_a_hooked_read_may_not_write_on_a_read_only_replica(server_factory, start_host):
    srv, c = start_host(tcp=True)
    path, args = host_module()
    rep = server_factory(modules=[(path, args), (ENGINE, [])], config=[("replicaof", "127.0.0.1", srv.port)])
    rc = rep.client(decode_responses=True)
    rep.wait_synced()
    code = ("def f(r):\n"
            "    execute('INCR', 'reads')\n"
            "    return call_next(*r[1:])\n"
            "GB('CommandReader').map(f).register(hook='get', keyprefix='g:', mode='sync')")
    assert pyexecute(c, code) == "OK"
    assert c.execute_command("GET", "g:1") == "None" and c.get("reads") == "1"
    assert c.execute_command("WAIT", 1, 10000) == 1
    deadline = time.time() + 20
    while not rc.execute_command("RG.DUMPREGISTRATIONS"):
        assert time.time() < deadline
        time.sleep(0.02)
    assert "READONLY You can't write against a read only replica." in error_of(rc, "GET", "g:1")
    assert rc.get("reads") == "1" and rc.dbsize() == c.dbsize()
