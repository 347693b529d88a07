"""RedisGears 1.2's commands for its tools (issue 18, item 3):
RG.DUMPREGISTRATIONS in its layout, with the outcome of the executions (a
failing KeysReader flow's last error is visible), RG.INFOCLUSTER,
RG.PYSTATS and RG.ABORTEXECUTION."""
import time

import pytest
import redis

from support.flows import error_of, pyexecute, registrations, trigger


def wait_for(cond, what, timeout=10):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, what
        time.sleep(0.01)


FLOWS = r'''
def check(r):
    if r['value'] == 'bad':
        raise ValueError('bad value in %s' % r['key'])
GB('KeysReader').foreach(check).register(prefix='acct:*', eventTypes=['set'], mode='sync')
GB('CommandReader').map(lambda r: r[1]).register(trigger='echo')
GB('StreamReader', desc='frames').foreach(lambda r: None).register('cam', batch=2, duration=300)
'''


def test_dump_registrations_layout_and_last_error(host):
    _, c = host
    assert pyexecute(c, FLOWS, "ID", "lib", "DESCRIPTION", "the lib") == "OK"
    c.set("acct:1", "good")
    c.set("acct:2", "bad")
    c.set("acct:3", "good")
    assert trigger(c, "echo", "x") == ["x"]
    raw = c.execute_command("RG.DUMPREGISTRATIONS")
    assert [r[:6:2] for r in raw] == [["id", "reader", "desc"]] * 3
    assert [r[6::2] for r in raw] == [["RegistrationData", "PD", "ExecutionThreadPool"]] * 3
    keys, command, stream = raw
    ids = [r[1] for r in raw]
    assert keys[3] == "KeysReader" and keys[5] == "the lib" and keys[11] == "DefaultPool"
    data = keys[7]
    assert data[:16] == ["mode", "sync", "numTriggered", 3, "numSuccess", 2, "numFailures", 1, "numAborted", 0,
                         "lastRunDurationMS", data[11], "totalRunDurationMS", data[13],
                         "avgRunDurationMS", data[15]]
    assert isinstance(data[15], str) and float(data[15]) >= 0
    assert data[16] == "lastError" and "ValueError: bad value in acct:2" in data[17]
    assert data[18:] == ["args", ["regex", "acct:*", "eventTypes", ["set"], "keyTypes", None,
                                  "hookCommands", None],
                         "user", "default"]  # ours: the ACL user whose rights its flows have
    assert keys[9] == ("{'sessionName':'lib', 'sessionDescription':'the lib', 'refCount': 4, "
                       "'linkedTo': primary, 'dead': false, 'isInstallationNeeded':0, "
                       "'registrationsList':['%s', '%s', '%s'], 'depsList':[]}" % tuple(ids))
    assert command[3] == "CommandReader"
    assert command[7][:8] == ["mode", "async", "numTriggered", 1, "numSuccess", 1, "numFailures", 0]
    assert command[7][16:] == ["lastError", None, "args", ["trigger", "echo", "inorder", 0]]
    assert stream[3] == "StreamReader" and stream[5] == "frames"
    assert stream[7][16:] == ["lastEstimatedLagMS", 0, "avgEstimatedLagMS", "0.000000", "lastError", None,
                              "args", ["batchSize", 2, "durationMS", 300, "stream", "cam", "trimStream", 1,
                                       "onFailedPolicy", "continue", "retryInterval", 1],
                              "status", "OK", "user", "default"]
    # the lag of a StreamReader batch: from the first entry's XADD to its read (here, `duration` later)
    c.xadd("cam", {"f": "1"})
    wait_for(lambda: [r for r in registrations(c) if r["reader"] == "StreamReader"][0]["numSuccess"] == 1,
             "the batch did not run")
    [s] = [r for r in registrations(c) if r["reader"] == "StreamReader"]
    assert 290 <= s["lastEstimatedLagMS"] < 5000 and float(s["avgEstimatedLagMS"]) == s["lastEstimatedLagMS"]
    # a failure later than a success is still the last error; a success keeps it
    c.set("acct:4", "bad")
    c.set("acct:5", "good")
    [k] = [r for r in registrations(c) if r["reader"] == "KeysReader"]
    assert (k["numSuccess"], k["numFailures"]) == (3, 2) and "acct:4" in k["lastError"]


def test_info_cluster_and_py_stats(host):
    _, c = host
    assert c.execute_command("RG.INFOCLUSTER") == "no cluster mode"
    assert c.execute_command("RG.PYSTATS") == ["TotalAllocated", 0, "PeakAllocated", 0, "CurrAllocated", 0]


SLOW = r'''
import time
def wait_go(x):
    while execute('GET', 'go') is None:
        time.sleep(0.01)
    execute('SET', 'step1', 'done')
    return x
GB('ShardsIDReader').map(wait_go).foreach(lambda x: execute('SET', 'step2', 'ran')).run()
'''


def test_abort_execution(start_host):
    _, c = start_host(host_args=["THREADS", "1"])  # one pool thread: executions run in turn
    ex = pyexecute(c, SLOW, "UNBLOCKING")
    assert error_of(c, "RG.GETRESULTS", ex) == "execution is still running"
    assert c.execute_command("RG.ABORTEXECUTION", ex) == "OK"
    assert c.execute_command("RG.GETRESULTS", ex) == [[], ["Execution was aborted"]]
    assert [e[3] for e in c.execute_command("RG.DUMPEXECUTIONS") if e[1] == ex] == ["aborted"]
    c.set("go", "1")
    # the step that ran goes to its end, the next one does not run
    after = pyexecute(c, "GB('PythonReader').run(lambda: ['1'])", "UNBLOCKING")
    assert c.execute_command("RG.GETRESULTSBLOCKING", after) == [["1"], []]
    assert c.get("step1") == "done" and c.get("step2") is None
    assert c.execute_command("RG.GETRESULTS", ex) == [[], ["Execution was aborted"]]
    # an execution that is done: OK, it stays as it was
    assert c.execute_command("RG.ABORTEXECUTION", after) == "OK"
    assert c.execute_command("RG.GETRESULTS", after) == [["1"], []]
    assert error_of(c, "RG.ABORTEXECUTION", "nosuch") == "execution does not exist"
    with pytest.raises(redis.ResponseError, match="wrong number"):
        c.execute_command("RG.ABORTEXECUTION")
