"""RG.PYEXECUTE ... REQUIREMENTS (RedisGears 1.2): pip installs what the
script needs into the host's requirements directory before it runs, from a
local wheel folder here (REQUIREMENTS_INDEX; no network in tests); the wheels
travel with the session (RDB, replicas) and with RG.PYEXPORTREQ /
RG.PYIMPORTREQ, as gears-cli export-requirements / import-requirements use
them; RG.PYDUMPREQS lists them."""
import os
import shutil
import tempfile
import time

import pytest

from support.flows import error_of, host_module, pyexecute, registrations, trigger
from support.server import ENGINE
from support.wheels import make_wheel

FLOW = "import rgtiny\nGB('CommandReader').map(lambda r: rgtiny.VALUE).register(trigger='tiny')\n"


@pytest.fixture
def wheels():
    folder = tempfile.mkdtemp(prefix="rg-wheels-")
    make_wheel(folder, "rgtiny", "1.0", "VALUE = 'one'\n")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def client(srv, **kw):
    """pip takes seconds, more under load: a short timeout would make the
    client send RG.PYEXECUTE again."""
    return srv.client(socket_timeout=120, **kw)


def reqs(c):
    return {d["Name"]: d for d in (dict(zip(r[::2], r[1::2])) for r in c.execute_command("RG.PYDUMPREQS"))}


def test_installed_from_a_local_wheel_folder_then_the_script_runs(start_host, wheels):
    srv, _ = start_host(host_args=("REQUIREMENTS_INDEX", wheels))
    c = client(srv, decode_responses=True)
    assert pyexecute(c, FLOW, "REQUIREMENTS", "rgtiny<2") == "OK"
    assert trigger(c, "tiny") == ["one"]
    d = reqs(c)["rgtiny<2"]
    assert d["GearReqVersion"] == 1 and d["IsDownloaded"] == "yes" and d["IsInstalled"] == "yes"
    assert d["Wheels"] == ["rgtiny-1.0-py3-none-any.whl"] and d["RefCount"] == 2
    assert d["IsInReqDictionary"] == "yes" and d["CompiledOs"]
    assert os.path.isdir(os.path.join(srv.dir, "python-requirements", "rgtiny-1.0.dist-info"))
    # met already: reused, no pip (the folder is empty now)
    os.remove(os.path.join(wheels, "rgtiny-1.0-py3-none-any.whl"))
    assert pyexecute(c, FLOW.replace("'tiny'", "'tiny2'"), "REQUIREMENTS", "rgtiny<2") == "OK"
    assert trigger(c, "tiny2") == ["one"]
    # met by the host's own environment: nothing to download
    assert pyexecute(c, "import numpy", "REQUIREMENTS", "numpy") == "OK"
    assert reqs(c)["numpy"]["IsDownloaded"] == "no"
    assert reqs(c)["numpy"]["Wheels"] == "Requirement was not yet downloaded so wheels are not available"


def test_force_reinstall_takes_the_new_wheel(start_host, wheels):
    srv, _ = start_host(host_args=("REQUIREMENTS_INDEX", wheels))
    c = client(srv, decode_responses=True)
    assert pyexecute(c, FLOW, "ID", "s", "REQUIREMENTS", "rgtiny<2") == "OK"
    assert trigger(c, "tiny") == ["one"]
    os.remove(os.path.join(wheels, "rgtiny-1.0-py3-none-any.whl"))
    make_wheel(wheels, "rgtiny", "1.5", "VALUE = 'one and a half'\n")
    assert pyexecute(c, FLOW, "ID", "s", "UPGRADE", "REQUIREMENTS", "rgtiny<2") == "OK"
    assert trigger(c, "tiny") == ["one"]  # met already: not installed again
    assert pyexecute(c, FLOW, "ID", "s", "UPGRADE", "FORCE_REINSTALL_REQUIREMENTS", "REQUIREMENTS",
                     "rgtiny<2") == "OK"
    assert trigger(c, "tiny") == ["one and a half"]  # installed again, and imported again
    assert reqs(c)["rgtiny<2"]["Wheels"] == ["rgtiny-1.5-py3-none-any.whl"]


def test_a_failed_install_says_why_and_registers_nothing(start_host, wheels):
    srv, _ = start_host(host_args=("REQUIREMENTS_INDEX", wheels))
    c = client(srv, decode_responses=True)
    err = error_of(c, "RG.PYEXECUTE", FLOW, "REQUIREMENTS", "rgnothere")
    assert err.startswith("Could not satisfy requirements") and "rgnothere" in err, err
    err = error_of(c, "RG.PYEXECUTE", FLOW, "REQUIREMENTS", "rgtiny>=3")
    assert "No matching distribution found for rgtiny>=3" in err, err
    assert c.execute_command("RG.DUMPREGISTRATIONS") == []
    assert reqs(c) == {}
    assert "invalid requirement: not a req!" in error_of(c, "RG.PYEXECUTE", FLOW, "REQUIREMENTS", "not a req!")
    p = c.pipeline(transaction=True)
    p.execute_command("RG.PYEXECUTE", FLOW, "REQUIREMENTS", "rgtiny<2")
    assert "can not install requirements inside MULTI" in str(p.execute(raise_on_error=False)[0])


def test_the_wheels_travel_in_the_rdb_to_a_server_without_them(start_host, wheels):
    """Restarted with an empty requirements directory and no wheel folder
    (a server without network), the session's requirement comes back from
    the wheels saved with it."""
    srv, _ = start_host(host_args=("REQUIREMENTS_INDEX", wheels))
    c = client(srv, decode_responses=True)
    assert pyexecute(c, FLOW, "ID", "tiny", "REQUIREMENTS", "rgtiny<2") == "OK"
    assert c.save()
    srv.stop()
    shutil.rmtree(os.path.join(srv.dir, "python-requirements"))
    shutil.rmtree(wheels)
    path, args = host_module()
    srv.modules = [(path, list(args)), (ENGINE, [])]
    srv.start()
    c = client(srv, decode_responses=True)
    assert trigger(c, "tiny") == ["one"]
    assert reqs(c)["rgtiny<2"]["IsInstalled"] == "yes"
    assert c.save()  # and they stay in the next RDB
    srv.restart()
    c = client(srv, decode_responses=True)
    assert trigger(c, "tiny") == ["one"]


def test_an_aof_brings_them_back(start_host, wheels):
    srv, _ = start_host(config=[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")],
                        host_args=("REQUIREMENTS_INDEX", wheels))
    c = client(srv, decode_responses=True)
    assert pyexecute(c, FLOW, "ID", "tiny", "REQUIREMENTS", "rgtiny<2") == "OK"
    srv.stop()
    shutil.rmtree(os.path.join(srv.dir, "python-requirements"))
    shutil.rmtree(wheels)
    srv.start()
    c = client(srv, decode_responses=True)
    assert trigger(c, "tiny") == ["one"]


def test_a_replica_installs_them_from_the_master(server_factory, start_host, wheels):
    srv, _ = start_host(tcp=True, host_args=("REQUIREMENTS_INDEX", wheels))
    c = client(srv, decode_responses=True)
    path, args = host_module()
    rep = server_factory(modules=[(path, args), (ENGINE, [])], config=[("replicaof", "127.0.0.1", srv.port)])
    rep.wait_synced()
    rc = rep.client(decode_responses=True)
    assert pyexecute(c, FLOW, "REQUIREMENTS", "rgtiny<2") == "OK"
    deadline = time.time() + 30
    while "rgtiny<2" not in reqs(rc):
        assert time.time() < deadline, "the requirement did not reach the replica"
        time.sleep(0.05)
    assert reqs(rc)["rgtiny<2"]["IsInstalled"] == "yes"
    assert os.path.isdir(os.path.join(rep.dir, "python-requirements", "rgtiny-1.0.dist-info"))


def test_export_then_import_on_a_server_without_the_wheels(start_host, server_factory, wheels):
    """What gears-cli export-requirements / import-requirements do."""
    srv, _ = start_host(host_args=("REQUIREMENTS_INDEX", wheels))
    a = client(srv, decode_responses=True)
    assert pyexecute(a, FLOW, "REQUIREMENTS", "rgtiny<2") == "OK"
    meta, chunks = srv.client().execute_command("RG.PYEXPORTREQ", "rgtiny<2")  # bytes: the chunks are binary
    assert dict(zip(meta[::2], meta[1::2]))[b"Name"] == b"rgtiny<2" and len(chunks) == 1
    assert error_of(a, "RG.PYEXPORTREQ", "nosuch") == "requirement does not exists"
    path, args = host_module()
    b = client(server_factory(modules=[(path, args), (ENGINE, [])]))
    assert b.execute_command("RG.PYIMPORTREQ", *chunks) == b"OK"
    d = {k.decode(): v for k, v in zip(*[iter(b.execute_command("RG.PYDUMPREQS")[0])] * 2)}
    assert d["Name"] == b"rgtiny<2" and d["IsInstalled"] == b"yes"
    assert b.execute_command("RG.PYEXECUTE", FLOW, "REQUIREMENTS", "rgtiny<2") == b"OK"
    assert b.execute_command("RG.TRIGGER", "tiny") == [b"one"]
    assert "Bad serialization format" in error_of(b, "RG.PYIMPORTREQ", "garbage")
    assert "Bad serialization format" in error_of(b, "RG.PYIMPORTREQ")


def test_dependencies_the_host_has_stay_the_hosts(start_host, wheels):
    """A requirement's dependency that the host's environment has is taken
    at the host's version and not installed again: a copy in the
    requirements directory would shadow the host's own (numpy, say)."""
    import redis
    host_version = redis.__version__
    make_wheel(wheels, "rgdep", "1.0", "from rgtiny import VALUE\n", requires=["rgtiny", "redis"])
    make_wheel(wheels, "redis", host_version, "FAKE = True\n")  # what the host has, in the folder
    make_wheel(wheels, "redis", "99.0", "FAKE = True\n")        # newer: not taken
    srv, _ = start_host(host_args=("REQUIREMENTS_INDEX", wheels))
    c = client(srv, decode_responses=True)
    flow = ("import rgdep, redis\n"
            "GB('CommandReader').map(lambda r: [rgdep.VALUE, hasattr(redis, 'FAKE')]).register(trigger='dep')\n")
    assert pyexecute(c, flow, "REQUIREMENTS", "rgdep") == "OK"
    assert trigger(c, "dep") == [str(["one", False])]
    assert sorted(reqs(c)["rgdep"]["Wheels"]) == sorted(
        ["rgdep-1.0-py3-none-any.whl", "rgtiny-1.0-py3-none-any.whl", "redis-%s-py3-none-any.whl" % host_version])
    installed = os.listdir(os.path.join(srv.dir, "python-requirements"))
    assert "rgtiny-1.0.dist-info" in installed and not [d for d in installed if d.startswith("redis")]


# A KeysReader flow that needs rgtiny and says whether it may read a key its
# registering user may not.
SPY = ("import rgtiny\n"
       "def spy(r):\n"
       "    try:\n"
       "        v = execute('GET', 'secret:1')\n"
       "    except Exception:\n"
       "        v = 'denied'\n"
       "    execute('SET', 'own:seen', '%s %s' % (rgtiny.VALUE, v))\n"
       "GB('KeysReader').foreach(spy).register(prefix='pub:*', mode='sync')\n")


def add_owner(c):
    c.execute_command("ACL", "SETUSER", "owner", "on", "nopass", "~pub:*", "~own:*", "+@all")


@pytest.mark.parametrize("persistence", ["rdb", "aof"])
def test_a_users_session_keeps_its_user_and_requirements(start_host, wheels, persistence):
    """The saved session holds both its ACL user and its requirements' wheels
    (the RDB's encoding 4, RG._SCRIPT PUTASREQ in the AOF): after a restart
    without the wheels, the flow is there and acts for that user."""
    config = [("appendonly", "yes"), ("aof-use-rdb-preamble", "no")] if persistence == "aof" else []
    srv, _ = start_host(config=config, host_args=("REQUIREMENTS_INDEX", wheels))
    c = client(srv, decode_responses=True)
    c.set("secret:1", "the secret")
    add_owner(c)
    owner = client(srv, decode_responses=True)
    owner.execute_command("AUTH", "owner", "x")
    assert pyexecute(owner, SPY, "REQUIREMENTS", "rgtiny<2") == "OK"
    c.set("pub:1", "x")
    assert c.get("own:seen") == "one denied"
    if persistence == "rdb":
        assert c.save()
    srv.stop()
    shutil.rmtree(os.path.join(srv.dir, "python-requirements"))
    shutil.rmtree(wheels)
    srv.start()
    c = client(srv, decode_responses=True)
    [reg] = [r for r in registrations(c) if r["reader"] == "KeysReader"]
    assert reg["user"] == "owner"
    assert reqs(c)["rgtiny<2"]["IsInstalled"] == "yes"
    add_owner(c)  # users made with ACL SETUSER do not survive a restart
    c.delete("own:seen")
    c.set("pub:2", "x")
    assert c.get("own:seen") == "one denied"
