"""KeysReader registrations (RedisGears' register() on the KeysReader): a
keyspace event on a matching key starts the flow on the record
{'key', 'type', 'value', 'event'}; eventTypes and keyTypes filter; sync
runs inside the write, async on the pool; a sync flow does not see the
events it causes itself; RG.DUMPREGISTRATIONS and RG.UNREGISTER know them."""
import time

import redis

from support.flows import error_of, pyexecute, registrations

FLOWS = r'''
import asyncio

def seen(r):
    v = r['value'] if not isinstance(r['value'], dict) else sorted(r['value'].items())
    execute('SET', 'seen:' + r['key'], repr([r['type'], r['event'], v]))

async def seen_later(r):
    await asyncio.sleep(0)
    execute('SET', 'seen:' + r['key'], r['event'])

GB('KeysReader').foreach(seen).register(prefix='person:*')
GB('KeysReader').foreach(seen).register(prefix='hash:*', eventTypes=['hset'], keyTypes=['hash'])
GB('KeysReader').foreach(seen).register(prefix='exact', mode='sync')
GB('KeysReader').foreach(seen).register(prefix='nv:*', readValue=False, mode='sync')
GB('KeysReader').foreach(seen_later).register(prefix='co:*', mode='sync')
GB('KeysReader').foreach(lambda r: execute('INCR', 'self:' + r['key'][5:]))\
    .register(prefix='self:*', mode='sync')
GB('KeysReader').foreach(lambda r: 1 / 0).register(prefix='fails:*')
GB('KeysReader').foreach(seen).register(prefix='tensor:*', eventTypes=['ai.tensorset'])
'''


def wait_for(c, key, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = c.get(key)
        if v is not None:
            return v
        time.sleep(0.01)
    raise AssertionError("%s never set" % key)


def test_async_registration_sees_each_write_of_a_matching_key(host):
    _, c = host
    pyexecute(c, FLOWS)
    c.set("person:1", "ann")
    assert wait_for(c, "seen:person:1") == repr(["string", "set", "ann"])
    c.set("other:1", "x")  # no registration matches
    c.hset("person:2", mapping={"a": "1", "b": "2"})
    assert wait_for(c, "seen:person:2") == repr(["hash", "hset", [("a", "1"), ("b", "2")]])
    c.delete("person:1")
    deadline = time.time() + 10
    while c.get("seen:person:1") != repr(["none", "del", None]):
        assert time.time() < deadline, c.get("seen:person:1")
        time.sleep(0.01)
    assert c.get("seen:other:1") is None


def test_engine_writes_start_flows_too(host):
    """The engine's AI.TENSORSET raises `ai.tensorset`: the classic "run the
    model when its input arrives" registration."""
    _, c = host
    pyexecute(c, FLOWS)
    c.execute_command("AI.TENSORSET", "tensor:1", "FLOAT", 2, "VALUES", 1, 2)
    assert wait_for(c, "seen:tensor:1") == repr(["AI_TENSOR", "ai.tensorset", None])
    c.set("tensor:2", "a string: a set event, filtered out")
    time.sleep(0.2)
    assert c.get("seen:tensor:2") is None


def test_event_and_key_type_filters(host):
    _, c = host
    pyexecute(c, FLOWS)
    c.set("hash:1", "a string")             # neither the event nor the type
    c.hset("hash:2", "f", "v")              # both
    assert wait_for(c, "seen:hash:2") == repr(["hash", "hset", [("f", "v")]])
    c.hdel("hash:2", "f")                   # an hdel event: filtered out
    time.sleep(0.2)
    assert c.get("seen:hash:1") is None
    assert c.get("seen:hash:2") == repr(["hash", "hset", [("f", "v")]])


def test_sync_runs_inside_the_write(host):
    _, c = host
    pyexecute(c, FLOWS)
    c.set("exact", "1")
    assert c.get("seen:exact") == repr(["string", "set", "1"])  # no waiting
    c.set("exactly", "1")  # a name without '*' matches only itself
    assert c.get("seen:exactly") is None
    c.set("nv:1", "hidden")
    assert c.get("seen:nv:1") == repr(["string", "set", None])
    # an async def step: begun inside the write, ends soon after
    c.set("co:1", "x")
    assert wait_for(c, "seen:co:1") == "set"


def test_a_sync_flow_does_not_trigger_itself(host):
    _, c = host
    pyexecute(c, FLOWS)
    c.set("self:a", "0")  # the flow INCRs self:a: one more event on its own prefix
    assert c.get("self:a") == "1"
    c.set("self:a", "5")
    assert c.get("self:a") == "6"
    assert c.ping()


def test_failing_flows_leave_the_server_and_data_alone(host):
    _, c = host
    pyexecute(c, FLOWS)
    for i in range(50):
        c.set("fails:%d" % i, i)
    assert c.ping()
    assert c.get("fails:49") == "49"
    fails = [r for r in registrations(c) if r["regex"] == "fails:*"]
    assert len(fails) == 1 and fails[0]["numTriggered"] == 50


def test_dump_and_unregister(host):
    _, c = host
    pyexecute(c, FLOWS)
    person = [r for r in registrations(c) if r.get("regex") == "person:*"]
    assert len(person) == 1
    assert person[0]["reader"] == "KeysReader" and person[0]["mode"] == "async"
    c.set("person:9", "x")
    wait_for(c, "seen:person:9")
    assert c.execute_command("RG.UNREGISTER", person[0]["id"]) == "OK"
    c.set("person:10", "x")
    time.sleep(0.2)
    assert c.get("seen:person:10") is None


def test_bad_arguments(host):
    _, c = host
    assert "eventTypes must be a list of strings" in error_of(
        c, "RG.PYEXECUTE", "GB('KeysReader').register(prefix='a*', eventTypes='set')")
    assert "unknown key type blob" in error_of(
        c, "RG.PYEXECUTE", "GB('KeysReader').register(prefix='a*', keyTypes=['blob'])")
    assert "can not hook nosuch: no such command" in error_of(
        c, "RG.PYEXECUTE", "GB('KeysReader').register(prefix='a*', commands=['nosuch'])")
    assert "commands must be a list of strings" in error_of(
        c, "RG.PYEXECUTE", "GB('KeysReader').register(prefix='a*', commands='get')")
    # a failed script leaves no registration behind
    assert c.execute_command("RG.DUMPREGISTRATIONS") == []
    c.set("a1", "x")
    assert isinstance(c.ping(), bool)


def test_keymiss_fires_on_a_read_of_a_missing_key(host):
    """eventTypes=['keymiss'] (the RedisGears read-through recipe): Redis
    raises key misses only to whom asks for them by name."""
    _, c = host
    pyexecute(c, r'''
GB().foreach(lambda r: execute('RPUSH', 'missed', '%s %s %s' % (r['key'], r['event'], r['value'])))\
    .register(prefix='cache:*', eventTypes=['keymiss'], mode='async_local')
GB().foreach(lambda r: execute('SET', 'sync:' + r['key'], r['event']))\
    .register(prefix='rt:*', eventTypes=['keymiss'], mode='sync')
''')
    assert c.get("cache:1") is None
    deadline = time.time() + 10
    while c.llen("missed") < 1:
        assert time.time() < deadline, "keymiss never fired"
        time.sleep(0.01)
    assert c.lrange("missed", 0, -1) == ["cache:1 keymiss None"]
    c.set("cache:2", "here")
    assert c.get("cache:2") == "here"  # a hit: no event
    c.get("rt:1")
    assert c.get("sync:rt:1") == "keymiss"  # sync: done when the GET returns
    time.sleep(0.2)
    assert c.lrange("missed", 0, -1) == ["cache:1 keymiss None"]
