"""RG.PYEXECUTE ... UNBLOCKING (spec §9): the reply is the execution's id at
once; RG.GETRESULTS, RG.GETRESULTSBLOCKING, RG.DROPEXECUTION and
RG.DUMPEXECUTIONS get at its results, as in RedisGears."""
import re
import threading
import time

import pytest

from support.flows import error_of, pyexecute

# The execution waits until the test sets 'go', so "running" is certain.
SLOW = r'''
import time
def wait_for_go(r):
    while execute('GET', 'go') is None:
        time.sleep(0.005)
    if r == 3:
        raise flat_error('three is bad')
    return r * 10
GB('PythonReader').map(wait_for_go).run(lambda: [1, 2, 3])
'''


def status(c, ex_id):
    for e in c.execute_command("RG.DUMPEXECUTIONS"):
        if e[1] == ex_id:
            assert e[0] == "executionId" and e[2] == "status"
            return e[3]
    return None


def test_results_of_an_unblocking_execution(host):
    srv, c = host
    ex_id = c.execute_command("RG.PYEXECUTE", SLOW, "UNBLOCKING")
    assert re.fullmatch(r"[0-9a-f]{40}-[0-9]+", ex_id)  # RedisGears' shape
    assert status(c, ex_id) == "running"
    assert error_of(c, "RG.GETRESULTS", ex_id) == "execution is still running"
    assert error_of(c, "RG.DROPEXECUTION", ex_id) == "execution is still running"
    # two clients block on it; a transaction can not
    got = []
    waiters = [threading.Thread(target=lambda: got.append(
        srv.client(decode_responses=True).execute_command("RG.GETRESULTSBLOCKING", ex_id))) for _ in range(2)]
    for t in waiters:
        t.start()
    p = c.pipeline(transaction=True)
    p.execute_command("RG.GETRESULTSBLOCKING", ex_id)
    assert "execution is still running" in str(p.execute(raise_on_error=False)[0])
    c.set("go", "1")
    for t in waiters:
        t.join(10)
    expected = [["10", "20"], ["three is bad"]]
    assert got == [expected, expected]
    assert c.execute_command("RG.GETRESULTS", ex_id) == expected
    assert status(c, ex_id) == "done"
    assert c.execute_command("RG.DROPEXECUTION", ex_id) == "OK"
    assert status(c, ex_id) is None
    for cmd in ("RG.GETRESULTS", "RG.GETRESULTSBLOCKING", "RG.DROPEXECUTION"):
        assert error_of(c, cmd, ex_id) == "execution does not exist"


def test_unblocking_without_run_registers(host):
    _, c = host
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'x').register(trigger='t')", "UNBLOCKING") == "OK"
    assert c.execute_command("RG.DUMPEXECUTIONS") == []


def test_the_last_1000_finished_are_kept(host):
    _, c = host
    ids = [c.execute_command("RG.PYEXECUTE", "GB('PythonReader').run(lambda: [%d])" % i, "UNBLOCKING")
           for i in range(1001)]
    deadline = time.time() + 30
    while any(e[3] == "running" for e in c.execute_command("RG.DUMPEXECUTIONS")):
        assert time.time() < deadline
        time.sleep(0.01)
    kept = [e[1] for e in c.execute_command("RG.DUMPEXECUTIONS")]
    gone = [i for i, ex_id in enumerate(ids) if ex_id not in kept]
    assert len(kept) == 1000 and len(gone) == 1 and gone[0] < 10  # one of the first to finish made room
    assert error_of(c, "RG.GETRESULTS", ids[gone[0]]) == "execution does not exist"
    assert c.execute_command("RG.GETRESULTS", ids[-1]) == [["1000"], []]


@pytest.mark.parametrize("args", [["RG.GETRESULTS"], ["RG.GETRESULTS", "a", "b"], ["RG.DUMPEXECUTIONS", "x"]])
def test_arity(host, args):
    _, c = host
    assert "wrong number of arguments" in error_of(c, *args)


def test_a_script_that_fails_after_run_leaves_no_execution(host):
    _, c = host
    assert error_of(c, "RG.PYEXECUTE", "GB('PythonReader').run(lambda: [1])\nraise Exception('after run')",
                    "UNBLOCKING") == "Exception: after run"
    assert c.execute_command("RG.DUMPEXECUTIONS") == []
