"""Registrations outlive the server: the RG.PYEXECUTE scripts that made them
travel in every RDB (SAVE, the AOF preamble, a replica's full sync) and run
again when loading ends -- their run() skipped, UPGRADEs and RG.UNREGISTER
honoured, nothing registered twice."""
import time

import pytest

from support.flows import error_of, host_module, pyexecute, registrations, trigger
from support.server import ENGINE

COUNTER = r'''
GB('CommandReader').map(lambda r: 'v1').register(trigger='ver')
GB('KeysReader').foreach(lambda r: execute('INCR', 'count:' + r['key'])).register(prefix='k:*', mode='sync')
'''
V2 = "GB('CommandReader').map(lambda r: 'v2').register(trigger='ver')\n"
WITH_RUN = r'''
GB('CommandReader').map(lambda r: 'ran').register(trigger='other')
GB('PythonReader').foreach(lambda r: execute('INCR', 'runs')).run(lambda: [1])
'''



def dump(c):
    out = []
    for d in registrations(c):
        out.append((d["reader"], d.get("trigger") or d.get("regex"), d["desc"], d["mode"]))
    return sorted(out, key=repr)


def test_registrations_come_back_after_a_restart(host):
    srv, c = host
    pyexecute(c, COUNTER, "ID", "counter", "DESCRIPTION", "counts writes")
    pyexecute(c, WITH_RUN)
    assert c.get("runs") == "1"
    before = dump(c)
    assert c.save()
    srv.restart()
    c = srv.client(decode_responses=True)
    assert dump(c) == before
    assert trigger(c, "ver") == ["v1"] and trigger(c, "other") == ["ran"]
    c.set("k:1", "x")
    assert c.get("count:k:1") == "1"
    assert c.get("runs") == "1"  # run() is not run again
    # the session keeps its ID: an UPGRADE replaces it, and that too is kept
    assert "already exists" in str(_error(c, V2, "ID", "counter"))
    pyexecute(c, V2, "ID", "counter", "UPGRADE")
    assert c.save()
    srv.restart()
    c = srv.client(decode_responses=True)
    assert trigger(c, "ver") == ["v2"]
    assert [r for r in dump(c) if r[0] == "KeysReader"] == []


def _error(c, *args):
    try:
        pyexecute(c, *args)
    except Exception as e:  # redis.ResponseError
        return e
    raise AssertionError("no error")


def test_unregistered_sessions_stay_gone(host):
    srv, c = host
    pyexecute(c, "GB('CommandReader').map(lambda r: 1).register(trigger='t')")
    [reg] = c.execute_command("RG.DUMPREGISTRATIONS")
    assert c.execute_command("RG.UNREGISTER", reg[1]) == "OK"
    assert c.save()
    srv.restart()
    c = srv.client(decode_responses=True)
    assert c.execute_command("RG.DUMPREGISTRATIONS") == []


@pytest.mark.parametrize("options", [("ID", "two"), ()], ids=["with_id", "without_id"])
def test_one_unregistered_flow_of_a_script_stays_gone(host, options):
    """RG.UNREGISTER of one of a script's registrations outlives DEBUG
    RELOAD and a restart, though the script runs again (the other stays)."""
    srv, c = host
    pyexecute(c, "GB('CommandReader').map(lambda r: 1).register(trigger='t1')\n"
                 "GB('CommandReader').map(lambda r: 2).register(trigger='t2')\n"
                 "GB('CommandReader').map(lambda r: 3).register(trigger='t3')\n", *options)
    ids = {d["trigger"]: d["id"] for d in registrations(c)}
    assert c.execute_command("RG.UNREGISTER", ids["t1"]) == "OK"
    assert c.execute_command("RG.UNREGISTER", ids["t3"]) == "OK"
    left = dump(c)
    assert [t for _, t, _, _ in left] == ["t2"]
    assert c.execute_command("DEBUG", "RELOAD") == "OK"
    assert dump(c) == left
    assert c.save()
    srv.restart()
    c = srv.client(decode_responses=True)
    assert dump(c) == left
    assert trigger(c, "t2") == ["2"]
    assert error_of(c, "RG.TRIGGER", "t1") == "no such trigger"


@pytest.mark.parametrize("script,options", [(COUNTER, ("ID", "counter")), (COUNTER, ()),
                                            (COUNTER.splitlines()[2], ())],
                         ids=["with_id", "without_id", "keys_reader_only_without_id"])
def test_debug_reload_registers_nothing_twice(host, script, options):
    srv, c = host
    pyexecute(c, script, *options)
    before = dump(c)
    assert c.execute_command("DEBUG", "RELOAD") == "OK"
    assert dump(c) == before
    c.set("k:2", "x")
    assert c.get("count:k:2") == "1"  # one registration, one INCR


def test_aof_preamble_restart(start_host):
    srv, c = start_host(config=[("appendonly", "yes")])
    pyexecute(c, COUNTER)
    assert c.execute_command("BGREWRITEAOF")
    deadline = time.time() + 20
    while c.info("persistence")["aof_rewrite_in_progress"]:
        assert time.time() < deadline
        time.sleep(0.05)
    srv.restart()
    c = srv.client(decode_responses=True)
    assert trigger(c, "ver") == ["v1"]


def test_a_replica_gets_the_registrations_with_its_full_sync(server_factory, start_host):
    srv, c = start_host(tcp=True)
    pyexecute(c, COUNTER, "ID", "counter")
    path, args = host_module()
    rep = server_factory(modules=[(path, args), (ENGINE, [])],
                         config=[("replicaof", "127.0.0.1", srv.port)])
    rc = rep.client(decode_responses=True)
    rep.wait_synced()
    deadline = time.time() + 20
    while not rc.execute_command("RG.DUMPREGISTRATIONS"):
        assert time.time() < deadline, "the replica's registrations did not come"
        time.sleep(0.05)
    assert dump(rc) == dump(c)
    # the replica's copy does not run on the writes it receives: the master's did
    c.set("k:3", "x")
    assert c.execute_command("WAIT", 1, 10000) == 1
    assert rc.get("count:k:3") == "1"
