"""Registrations reach replicas and the AOF as they happen, not only with
the next RDB: RG.PYEXECUTE, UPGRADE and RG.UNREGISTER propagate the saved
script (RG._SCRIPT).  A script run again does not run its top-level writes
again: their effects came with the data."""
import time

import pytest
import redis

from support.flows import ENGINE, error_of, host_module, pyexecute, registrations, trigger

FLOWS = r'''
execute('INCR', 'script_runs')
GB('CommandReader').map(lambda r: 'v1').register(trigger='ver')
GB('KeysReader').foreach(lambda r: execute('INCR', 'count:' + r['key'])).register(prefix='k:*', mode='sync')
'''
V2 = "GB('CommandReader').map(lambda r: 'v2').register(trigger='ver')\n"


def dump(c):
    out = []
    for d in registrations(c):
        out.append((d["reader"], d.get("trigger") or d.get("regex"), d["mode"]))
    return sorted(out)


def wait_for(check, what):
    deadline = time.time() + 20
    while not check():
        assert time.time() < deadline, what
        time.sleep(0.02)


@pytest.fixture
def pair(server_factory, start_host):
    """A master and a replica that finished its full sync before any script."""
    srv, c = start_host(tcp=True)
    path, args = host_module()
    rep = server_factory(modules=[(path, args), (ENGINE, [])], config=[("replicaof", "127.0.0.1", srv.port)])
    rep.wait_synced()
    return c, rep.client(decode_responses=True)


def test_replica_follows_registrations(pair):
    c, rc = pair
    assert pyexecute(c, FLOWS, "ID", "s1") == "OK"
    wait_for(lambda: dump(rc) == dump(c) != [], "the registrations did not reach the replica")
    assert c.execute_command("WAIT", 1, 10000) == 1
    assert rc.get("script_runs") == "1"  # the top-level INCR came once, as an effect
    # the replica's flows do not run on what it receives: the master's did
    c.set("k:1", "x")
    assert c.execute_command("WAIT", 1, 10000) == 1
    assert rc.get("count:k:1") == "1"
    # UPGRADE replaces them there too
    assert pyexecute(c, V2, "ID", "s1", "UPGRADE") == "OK"
    wait_for(lambda: dump(rc) == dump(c) == [("CommandReader", "ver", "async")], "the UPGRADE did not reach it")
    # RG.UNREGISTER of the last one drops the session there too
    reg_id = c.execute_command("RG.DUMPREGISTRATIONS")[0][1]
    assert c.execute_command("RG.UNREGISTER", reg_id) == "OK"
    wait_for(lambda: rc.execute_command("RG.DUMPREGISTRATIONS") == [], "the RG.UNREGISTER did not reach it")


def test_promoted_replica_runs_the_flows(pair):
    c, rc = pair
    assert pyexecute(c, FLOWS, "ID", "s1") == "OK"
    keys_id = [r["id"] for r in registrations(c) if r["reader"] == "KeysReader"][0]
    assert c.execute_command("RG.UNREGISTER", keys_id) == "OK"  # one of two: the script stays, minus it
    wait_for(lambda: dump(rc) == dump(c) == [("CommandReader", "ver", "async")], "no registrations on the replica")
    assert rc.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    assert trigger(rc, "ver") == ["v1"]
    rc.set("k:2", "x")
    assert rc.get("count:k:2") is None  # the unregistered KeysReader stayed gone
    assert rc.get("script_runs") == "1"


@pytest.mark.parametrize("preamble", ["no", "yes"])
def test_aof_keeps_registrations(start_host, preamble):
    srv, c = start_host(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", preamble)])
    assert pyexecute(c, FLOWS, "ID", "s1") == "OK"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'gone').register(trigger='gone')", "ID", "s2") == "OK"
    gone = [r["id"] for r in registrations(c) if r.get("trigger") == "gone"][0]
    assert c.execute_command("RG.UNREGISTER", gone) == "OK"
    assert pyexecute(c, V2, "ID", "s1", "UPGRADE") == "OK"
    before = dump(c)
    srv.restart()
    c = srv.client(decode_responses=True)
    assert dump(c) == before == [("CommandReader", "ver", "async")]
    assert trigger(c, "ver") == ["v2"]
    assert c.get("script_runs") == "1"


def test_top_level_writes_do_not_run_again_on_reload(host):
    _, c = host
    assert pyexecute(c, FLOWS) == "OK"
    assert c.execute_command("DEBUG", "RELOAD") == "OK"
    assert c.get("script_runs") == "1"
    assert trigger(c, "ver") == ["v1"]  # the rest of the script did run


def test_clients_can_not_send_rg_script(host):
    _, c = host
    assert error_of(c, "RG._SCRIPT", "DROP", "x") == "RG._SCRIPT only comes from a master or the AOF"


ORDERED = "GB('KeysReader').foreach(lambda r: execute('RPUSH', 'order', NAME)).register(prefix='k*', " \
          "mode='sync', readValue=False)"


def test_a_load_registers_in_the_order_they_were_sent(host):
    """Sessions come back oldest first, and what RG.UNREGISTER took is not
    registered again, even for a moment (a newer session took its trigger)."""
    srv, c = host
    for name in ("first", "second", "third"):
        assert pyexecute(c, ORDERED.replace("NAME", repr(name)), "ID", name) == "OK"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'a1').register(trigger='t1')\n"
                        "GB('CommandReader').map(lambda r: 'a2').register(trigger='t2')", "ID", "a") == "OK"
    t1 = [r["id"] for r in registrations(c) if r.get("trigger") == "t1"][0]
    assert c.execute_command("RG.UNREGISTER", t1) == "OK"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'b1').register(trigger='t1')", "ID", "b") == "OK"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'a2 again').register(trigger='t2')", "ID", "a",
                     "UPGRADE") == "OK"  # a is now newer than b
    for restart in (lambda: c.execute_command("DEBUG", "RELOAD"), lambda: (c.save(), srv.restart())):
        restart()
        c = srv.client(decode_responses=True)
        c.delete("order")
        c.set("k1", "x")
        assert c.lrange("order", 0, -1) == ["first", "second", "third"]
        assert trigger(c, "t1") == ["b1"] and trigger(c, "t2") == ["a2 again"]


def test_a_full_sync_drops_the_replicas_own_registrations(server_factory, start_host):
    master, c = start_host(tcp=True)
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'm').register(trigger='m')", "ID", "m") == "OK"
    srv, rc = start_host()
    assert pyexecute(rc, "GB('CommandReader').map(lambda r: 'old').register(trigger='old')", "ID", "s") == "OK"
    assert rc.execute_command("REPLICAOF", "127.0.0.1", master.port) == "OK"
    srv.wait_synced()
    wait_for(lambda: dump(rc) == dump(c), "the replica kept registrations its master does not have")
    assert rc.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    assert trigger(rc, "m") == ["m"] and "no such trigger" in error_of(rc, "RG.TRIGGER", "old")


def test_top_level_lua_writes_do_not_run_again(pair):
    c, rc = pair
    code = "execute('EVAL', \"return redis.call('INCR', 'n')\", 0)\n" \
           "GB('CommandReader').map(lambda r: 'ev').register(trigger='ev')"
    assert pyexecute(c, code) == "OK"
    wait_for(lambda: dump(rc) == dump(c) != [], "the script did not reach the replica")
    assert c.execute_command("DEBUG", "RELOAD") == "OK"
    assert c.get("n") == "1" and c.execute_command("WAIT", 1, 10000) == 1 and rc.get("n") == "1"
