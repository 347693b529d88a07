"""Flows act with an ACL user's rights, as Lua's redis.call does: a flow a
client starts (RG.TRIGGER, RG.TRIGGERONKEY, a command hook, RG.PYEXECUTE's
run()) with that client's, a flow an event starts (KeysReader,
StreamReader) with those of the user who registered it.  Each refusal has
the text redis.pcall gives the same user in EVAL."""
import time

import pytest
import redis

from support.flows import pyexecute, registrations, trigger
from support.server import ON_VALKEY

# The record is ['do', command, args...]: the flow runs the command and says
# what it got.
DO = r'''
def do(r):
    try:
        return 'ok:%%r' %% (execute(*r[1:]),)
    except Exception as e:
        return 'err:%%s' %% e
GB('CommandReader').map(do).register(trigger='do', mode=%r)
GB('CommandReader').map(do).register(trigger='do_inner', mode=%r)
GB('CommandReader').map(lambda r: do(['peek', 'GET', 'secret:1'])).register(trigger='peek')
'''


def users(c):
    """Users who may run the flows, with and without the rights their calls need."""
    c.set("secret:1", "the secret")
    c.set("pub:1", "public")
    # may trigger, nothing else
    c.execute_command("ACL", "SETUSER", "trig", "on", "nopass", "~pub:*", "+rg.trigger", "+rg.triggeronkey")
    # may read and write pub:* keys, and trigger, but nothing dangerous
    c.execute_command("ACL", "SETUSER", "pub", "on", "nopass", "~pub:*", "+@all", "-@dangerous")
    # may do anything with pub:* keys, RG.PYEXECUTE included
    c.execute_command("ACL", "SETUSER", "sender", "on", "nopass", "~pub:*", "+@all")
    # the same rights, for EVAL: what redis.pcall says to each
    c.execute_command("ACL", "SETUSER", "lua_trig", "on", "nopass", "~pub:*", "+eval")
    c.execute_command("ACL", "SETUSER", "lua_pub", "on", "nopass", "~pub:*", "+@all", "-@dangerous")


def as_user(srv, name):
    u = srv.client(decode_responses=True)
    u.execute_command("AUTH", name, "x")
    return u


def lua_error(srv, user, *cmd):
    """'err:' and the error redis.pcall(cmd) gives `user` in EVAL (no key
    declared), for the flow user of the same rights: lua_pub's text is
    pub's (Redis 7.2+ and Valkey name the user in it)."""
    args = ", ".join("'%s'" % a for a in cmd)
    text = as_user(srv, user).eval("local r = redis.pcall(%s); return r['err']" % args, 0)
    assert text, "EVAL ran %s" % (cmd,)
    return "err:" + text.replace("User %s " % user, "User %s " % user[len("lua_"):])


# The server's wording of a refused command and key (Redis 7.0; Valkey 8.1)
COMMAND_REFUSED = "ACL failure in script: User" if ON_VALKEY else "The user executing the script can't run this command"
KEY_REFUSED = "No permissions to access a key" if ON_VALKEY else "access at least one of the keys"


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_triggered_flow_has_the_callers_rights(host, mode):
    srv, c = host
    users(c)
    pyexecute(c, DO % (mode, mode))
    trig, pub = as_user(srv, "trig"), as_user(srv, "pub")
    # a user allowed only RG.TRIGGER runs nothing through it
    got = trigger(trig, "do", "GET", "pub:1")
    assert got == [lua_error(srv, "lua_trig", "GET", "pub:1")]
    assert got[0].startswith("err:ERR " + COMMAND_REFUSED)
    assert trigger(trig, "do", "CONFIG", "SET", "maxmemory", "1") == [
        lua_error(srv, "lua_trig", "FLUSHALL").replace("'flushall'", "'config|set'")]  # Lua refuses CONFIG
    # key patterns hold: its keys only, and no dangerous command
    assert trigger(pub, "do", "GET", "pub:1") == ["ok:'public'"]
    got = trigger(pub, "do", "GET", "secret:1")
    assert got == [lua_error(srv, "lua_pub", "GET", "secret:1")]
    assert KEY_REFUSED in got[0]
    assert trigger(pub, "do", "SET", "secret:1", "overwritten") == [
        lua_error(srv, "lua_pub", "SET", "secret:1", "x")]
    assert trigger(pub, "do", "COPY", "pub:1", "secret:2") == [
        lua_error(srv, "lua_pub", "COPY", "pub:1", "secret:2")]
    assert trigger(pub, "do", "FLUSHALL") == [lua_error(srv, "lua_pub", "FLUSHALL")]
    assert trigger(pub, "do", "CONFIG", "SET", "maxmemory", "1") == [
        lua_error(srv, "lua_pub", "FLUSHALL").replace("'flushall'", "'config|set'")]  # Lua refuses CONFIG
    assert c.get("secret:1") == "the secret" and c.exists("secret:2") == 0
    assert c.config_get("maxmemory") == {"maxmemory": "0"}
    # RG.TRIGGERONKEY: the same
    assert pub.execute_command("RG.TRIGGERONKEY", "peek", "pub:1") == [
        lua_error(srv, "lua_pub", "GET", "secret:1")]
    # the default user keeps every right
    assert trigger(c, "do", "GET", "secret:1") == ["ok:'the secret'"]


def test_nested_trigger_keeps_the_callers_rights(host):
    """execute('RG.TRIGGER', ...) from a flow: the inner flow acts for the
    outer one's user, not with the module's full rights."""
    srv, c = host
    users(c)
    pyexecute(c, DO % ("async", "sync"))
    pub = as_user(srv, "pub")
    got = trigger(pub, "do", "RG.TRIGGER", "do_inner", "GET", "secret:1")
    assert got == ["ok:[%r]" % lua_error(srv, "lua_pub", "GET", "secret:1")]
    assert trigger(c, "do", "RG.TRIGGER", "do_inner", "GET", "secret:1") == ["ok:[\"ok:'the secret'\"]"]
    # from Lua: the script's caller
    assert pub.eval("return redis.call('RG.TRIGGER', 'do_inner', 'GET', 'secret:1')", 0) == [
        lua_error(srv, "lua_pub", "GET", "secret:1")]
    assert c.eval("return redis.call('RG.TRIGGER', 'do_inner', 'GET', 'secret:1')", 0) == ["ok:'the secret'"]


def test_command_hook_has_the_callers_rights(host):
    srv, c = host
    users(c)
    pyexecute(c, (DO % ("async", "sync")) +
              "GB('CommandReader').map(lambda r: do(['hset', 'GET', 'secret:1'])).register("
              "hook='hset', keyprefix='pub:')")
    pub = as_user(srv, "pub")
    assert pub.execute_command("HSET", "pub:h", "f", "v") == lua_error(srv, "lua_pub", "GET", "secret:1")
    assert c.execute_command("HSET", "pub:h", "f", "v") == "ok:'the secret'"


def test_pyexecute_run_has_the_senders_rights(host):
    srv, c = host
    users(c)
    sender = as_user(srv, "sender")
    results, errors = pyexecute(sender, "def get(k):\n"
                                        "    try:\n"
                                        "        return 'ok:' + execute('GET', k)\n"
                                        "    except Exception as e:\n"
                                        "        return 'err:%s' % e\n"
                                        "GB('PythonReader').map(get).run(lambda: ['pub:1', 'secret:1'])")
    assert results == ["ok:public", lua_error(srv, "lua_pub", "GET", "secret:1")] and errors == []
    # its top-level code too
    with pytest.raises(redis.ResponseError) as e:
        pyexecute(sender, "execute('SET', 'secret:1', 'x')")
    assert KEY_REFUSED in str(e.value)
    assert c.get("secret:1") == "the secret"


# A KeysReader flow that copies what it may read of secret:1 to own:seen.
SPY = r'''
def spy(r):
    try:
        v = execute('GET', 'secret:1')
    except Exception as e:
        v = 'denied: %%s' %% e
    execute('SET', 'own:seen', v)
    execute('INCR', 'own:count')
GB('KeysReader').foreach(spy).register(prefix='pub:*', mode=%r)
'''


def owner(c):
    c.execute_command("ACL", "SETUSER", "owner", "on", "nopass", "~pub:*", "~own:*", "+@all")
    c.execute_command("ACL", "SETUSER", "writer", "on", "nopass", "~pub:*", "+set")


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError("timed out")


def keys_regs(c):
    return [r for r in registrations(c) if r["reader"] in ("KeysReader", "StreamReader")]


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_event_flow_has_the_registering_users_rights(host, mode):
    srv, c = host
    users(c)
    owner(c)
    assert pyexecute(as_user(srv, "owner"), SPY % mode) == "OK"
    as_user(srv, "writer").set("pub:2", "x")  # another user's write starts it
    seen = wait_for(lambda: c.get("own:seen"))
    assert seen == "denied: " + lua_error(srv, "lua_pub", "GET", "secret:1")[4:]
    [reg] = keys_regs(c)
    assert reg["user"] == "owner" and reg["lastError"] is None


def test_stream_flow_has_the_registering_users_rights(host):
    srv, c = host
    users(c)
    owner(c)
    c.execute_command("ACL", "SETUSER", "writer", "+xadd")
    code = (SPY % "async").replace("GB('KeysReader').foreach(spy).register(prefix='pub:*', mode='async')",
                                   "GB('StreamReader').foreach(spy).register('pub:s', batch=1)")
    assert "StreamReader" in code
    assert pyexecute(as_user(srv, "owner"), code) == "OK"
    as_user(srv, "writer").xadd("pub:s", {"a": "1"})
    seen = wait_for(lambda: c.get("own:seen"))
    assert seen == "denied: " + lua_error(srv, "lua_pub", "GET", "secret:1")[4:]
    assert keys_regs(c)[0]["user"] == "owner"


def test_registration_user_survives_a_reload_and_must_exist(host):
    srv, c = host
    users(c)
    owner(c)
    assert pyexecute(as_user(srv, "owner"), SPY % "sync") == "OK"
    c.execute_command("DEBUG", "RELOAD")
    c.set("pub:2", "x")
    assert c.get("own:seen").startswith("denied: ")
    assert c.get("own:count") == "1"
    assert keys_regs(c)[0]["user"] == "owner"
    # gone: its events start nothing, and the dump says why
    c.execute_command("ACL", "DELUSER", "owner")
    c.set("pub:3", "x")
    assert c.get("own:count") == "1"
    [reg] = keys_regs(c)
    assert reg["lastError"] == ("the ACL user 'owner' who registered it no longer exists: "
                                "its events start no execution")
    assert reg["numTriggered"] == 1
    # back (with other rights): it runs again, with the new ones
    c.execute_command("ACL", "SETUSER", "owner", "on", "nopass", "~*", "+@all")
    c.set("pub:4", "x")
    assert c.get("own:seen") == "the secret" and c.get("own:count") == "2"
    assert keys_regs(c)[0]["lastError"] is None


def test_registration_user_reaches_replicas(server_factory, start_host):
    srv, c = start_host(tcp=True)
    rep, rc = start_host(config=[("replicaof", "127.0.0.1", srv.port)])
    rep.wait_synced()
    c.set("secret:1", "the secret")
    for client in (c, rc):  # ACL users are not replicated: each server has its own
        owner(client)
    assert pyexecute(as_user(srv, "owner"), SPY % "sync") == "OK"
    assert c.execute_command("WAIT", 1, 10000) == 1
    regs = wait_for(lambda: keys_regs(rc))
    assert regs[0]["user"] == "owner" and regs[0]["lastError"] is None
    # promoted, it runs the flow with the owner's rights
    rc.execute_command("REPLICAOF", "NO", "ONE")
    rc.set("secret:1", "the secret")
    rc.set("pub:1", "x")
    assert rc.get("own:seen").startswith("denied: ")


def test_registration_user_survives_an_aof_restart(start_host):
    srv, c = start_host(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")])
    users(c)
    owner(c)
    assert pyexecute(as_user(srv, "owner"), SPY % "sync") == "OK"
    srv.restart()  # ACL users made with ACL SETUSER do not survive it: the name does
    c = srv.client(decode_responses=True)
    [reg] = keys_regs(c)
    assert reg["user"] == "owner" and "'owner' who registered it no longer exists" in reg["lastError"]
    c.set("pub:1", "x")
    assert c.get("own:count") is None
    owner(c)
    c.set("pub:2", "x")
    assert c.get("own:seen").startswith("denied: ") and c.get("own:count") == "1"


def test_user_deleted_inside_a_transaction(host):
    """ACL DELUSER between two events of one EXEC: the second starts nothing
    (the user the first looked up is gone, and must not be used)."""
    srv, c = host
    users(c)
    owner(c)
    assert pyexecute(as_user(srv, "owner"), SPY % "sync") == "OK"
    p = c.pipeline(transaction=True)
    p.set("pub:1", "x")
    p.execute_command("ACL", "DELUSER", "owner")
    p.set("pub:2", "x")
    p.execute()
    assert c.get("own:count") == "1"
    [reg] = keys_regs(c)
    assert reg["numTriggered"] == 1 and "no longer exists" in reg["lastError"]


def test_refusals_reach_the_acl_log(host):
    srv, c = host
    users(c)
    pyexecute(c, DO % ("async", "sync"))
    pub = as_user(srv, "pub")
    c.execute_command("ACL", "LOG", "RESET")
    trigger(pub, "do", "GET", "secret:1")
    trigger(pub, "do", "FLUSHALL")
    logged = [dict(zip(e[::2], e[1::2])) for e in c.execute_command("ACL", "LOG")]
    assert [(e["reason"], e["object"], e["username"], e["context"]) for e in logged] == [
        ("command", "flushall", "pub", "module"), ("key", "secret:1", "pub", "module")]
