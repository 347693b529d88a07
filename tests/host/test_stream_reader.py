"""StreamReader registrations (RedisGears' register() on the StreamReader,
as the public video demos use it): new entries of a matching stream start
the flow on records {'key', 'id', 'value': {field: value}}; `batch` waits
for that many entries, `duration` runs what waits after that many ms; with
trimStream the entries an execution processed leave the stream."""
import time

import pytest

from support.flows import error_of, pyexecute, registrations

FLOWS = r'''
def note(r):
    execute('RPUSH', 'log:' + r['key'], '%s %s' % (r['id'], r['value']['f']))

GB('StreamReader').foreach(note).register('cam:*')
GB('StreamReader').foreach(note).register(prefix='keep', trimStream=False, mode='sync')
GB('StreamReader').foreach(note).register(prefix='batch', batch=3)
GB('StreamReader').foreach(note).register(prefix='slow', batch=100, duration=200)
GB('StreamReader').map(lambda r: 1 / 0).register(prefix='fails')
'''


def wait_len(c, key, n, timeout=10):
    deadline = time.time() + timeout
    while c.llen(key) < n:
        assert time.time() < deadline, c.lrange(key, 0, -1)
        time.sleep(0.01)
    return c.lrange(key, 0, -1)


def test_each_new_entry_once_then_trimmed(host):
    _, c = host
    c.xadd("cam:0", {"f": "before"})  # older than the registration: not read
    pyexecute(c, FLOWS)
    ids = [c.xadd("cam:0", {"f": str(i)}) for i in range(20)]
    got = wait_len(c, "log:cam:0", 20)
    assert sorted(got, key=lambda s: int(s.split()[1])) == ["%s %d" % (ids[i], i) for i in range(20)]
    deadline = time.time() + 10
    while c.xlen("cam:0") > 1:  # the processed entries are trimmed; "before" stays
        assert time.time() < deadline, c.xlen("cam:0")
        time.sleep(0.01)
    assert c.xrange("cam:0")[0][1] == {"f": "before"}
    time.sleep(0.2)
    assert c.llen("log:cam:0") == 20  # nothing read twice



def test_what_a_stream_held_at_registration_is_never_read(host):
    """Entries already there when the flow registers are not read, whatever
    their ids: here one with an explicit id ten minutes ahead of the clock
    (a registration that started from its own time would read it)."""
    _, c = host
    ahead = int(time.time() * 1000) + 600000
    c.xadd("cam:1", {"f": "before"}, id="%d-0" % ahead)
    pyexecute(c, FLOWS)
    ids = [c.xadd("cam:1", {"f": str(i)}) for i in range(3)]
    wait_len(c, "log:cam:1", 3)
    time.sleep(0.2)
    assert sorted(c.lrange("log:cam:1", 0, -1)) == sorted("%s %d" % (ids[i], i) for i in range(3))

def test_sync_without_trimming(host):
    _, c = host
    pyexecute(c, FLOWS)
    first = c.xadd("keep", {"f": "a"})
    assert c.lrange("log:keep", 0, -1) == ["%s a" % first]  # ran inside XADD
    second = c.xadd("keep", {"f": "b"})
    assert c.lrange("log:keep", 0, -1) == ["%s a" % first, "%s b" % second]
    assert c.xlen("keep") == 2


def test_batch_and_duration(host):
    _, c = host
    pyexecute(c, FLOWS)
    c.xadd("batch", {"f": "1"})
    c.xadd("batch", {"f": "2"})
    time.sleep(0.3)
    assert c.llen("log:batch") == 0  # two of three
    c.xadd("batch", {"f": "3"})
    assert [s.split()[1] for s in wait_len(c, "log:batch", 3)] == ["1", "2", "3"]
    c.xadd("slow", {"f": "x"})
    assert c.llen("log:slow") == 0
    assert [s.split()[1] for s in wait_len(c, "log:slow", 1, timeout=5)] == ["x"]


@pytest.mark.parametrize("how", ["debug_reload", "restart"])
def test_readers_go_on_where_they_were_after_a_load(host, how):
    """Across DEBUG RELOAD or a restart, no entry is read twice, the entries
    waiting for a batch are still read, and those the stream held before
    the registration still are not (the saved script keeps the readers'
    state)."""
    srv, c = host
    c.xadd("batch", {"f": "before"})
    c.xadd("keep", {"f": "before"})
    pyexecute(c, FLOWS)
    c.xadd("keep", {"f": "k1"})
    wait_len(c, "log:keep", 1)
    waiting = [c.xadd("batch", {"f": str(i)}) for i in range(2)]
    if how == "debug_reload":
        assert c.execute_command("DEBUG", "RELOAD") == "OK"
    else:
        assert c.save()
        srv.restart()
        c = srv.client(decode_responses=True)
    third = c.xadd("batch", {"f": "2"})
    got = wait_len(c, "log:batch", 3)
    assert got == ["%s 0" % waiting[0], "%s 1" % waiting[1], "%s 2" % third]
    c.xadd("keep", {"f": "k2"})
    assert [x.split()[1] for x in wait_len(c, "log:keep", 2)] == ["k1", "k2"]
    time.sleep(0.2)
    assert c.llen("log:batch") == 3 and c.llen("log:keep") == 2


def test_failures_keep_the_entries_and_the_server(host):
    _, c = host
    pyexecute(c, FLOWS)
    for i in range(10):
        c.xadd("fails", {"f": str(i)})
    time.sleep(0.3)
    assert c.ping() and c.xlen("fails") == 10  # not trimmed: the executions failed
    fails = [r for r in registrations(c) if r.get("stream") == "fails"]
    assert fails[0]["reader"] == "StreamReader" and fails[0]["numTriggered"] == 10


def test_other_events_and_types_do_not_start_it(host):
    _, c = host
    pyexecute(c, FLOWS)
    c.set("cam:str", "a string")
    c.xadd("cam:1", {"f": "x"})
    wait_len(c, "log:cam:1", 1)  # (read before the trim below could take it)
    c.xtrim("cam:1", maxlen=0)  # an xtrim event
    time.sleep(0.2)
    assert c.llen("log:cam:1") == 1 and c.llen("log:cam:str") == 0


def test_bad_arguments(host):
    _, c = host
    assert "batch must be a positive integer" in error_of(
        c, "RG.PYEXECUTE", "GB('StreamReader').register('s', batch=0)")
    assert "onFailedPolicy abort is not supported" in error_of(
        c, "RG.PYEXECUTE", "GB('StreamReader').register('s', onFailedPolicy='abort')")
    assert c.execute_command("RG.DUMPREGISTRATIONS") == []


def test_sees_the_entries_a_sync_keys_reader_flow_adds(host):
    """The issue's reproduction: a sync KeysReader flow XADDs into a stream
    that a StreamReader reads, inside the SET that started it."""
    _, c = host
    pyexecute(c, r'''
GB('StreamReader').foreach(lambda r: execute('RPUSH', 'got', r['value']['k'])).register(prefix='evs:*')
GB().foreach(lambda x: execute('XADD', 'evs:1', '*', 'k', x['key'])).register(prefix='w*', mode='sync',
                                                                            readValue=False)
''')
    c.set("w1", "1")
    assert c.xlen("evs:1") in (0, 1)  # added, maybe trimmed already
    assert wait_len(c, "got", 1) == ["w1"]
    c.set("w2", "1")
    assert wait_len(c, "got", 2) == ["w1", "w2"]
    time.sleep(0.2)
    assert c.lrange("got", 0, -1) == ["w1", "w2"]  # each once
