"""gears_results -- executions started by `RG.PYEXECUTE ... UNBLOCKING`: the
command replies with the execution's id at once, and the results wait here
for RG.GETRESULTS, RG.GETRESULTSBLOCKING, RG.DROPEXECUTION and
RG.DUMPEXECUTIONS (src/host/commands.c), and RG.ABORTEXECUTION, as in
RedisGears.  The last MAX_DONE finished executions are kept (MaxExecutions,
gears_config); running ones always are."""
import collections
import threading

import redisgears
from redisgears import GearsError

MAX_DONE = 1000
NO_SUCH = "execution does not exist"
RUNNING = "execution is still running"
ABORTED = "Execution was aborted"


class Record:
    __slots__ = ("results", "errors", "waiters", "execution", "aborted")

    def __init__(self):
        self.results = None  # a list once done
        self.errors = None
        self.waiters = []    # RG.GETRESULTSBLOCKING clients
        self.execution = None  # what RG.ABORTEXECUTION stops (track())
        self.aborted = False


_records = collections.OrderedDict()  # execution id -> Record, oldest first
_mutex = threading.Lock()  # executions end on any thread


def start(id):
    """A new execution `id`; returns its done(results, errors)."""
    record = Record()
    with _mutex:
        _records[id] = record

    def done(results, errors):
        _finish(record, list(results), list(errors))
    return done


def track(id, execution):
    """The execution `id` runs: RG.ABORTEXECUTION may stop it."""
    with _mutex:
        _records[id].execution = execution


def _finish(record, results, errors):
    with _mutex:
        if record.results is not None:  # aborted before it ended
            return
        record.results, record.errors = results, errors
        waiters, record.waiters, record.execution = record.waiters, [], None
        finished = [i for i, r in _records.items() if r.results is not None]
        for old in finished[:max(0, len(finished) - MAX_DONE)]:
            del _records[old]
    for waiter in waiters:
        redisgears._complete(waiter, record.results, record.errors, 1)


def abort(id):
    """RG.ABORTEXECUTION: a running execution ends now, with an error; the
    step running goes on to its end (a thread can not be stopped), the
    steps after it do not run."""
    with _mutex:
        record = _find(id)
        execution = record.execution
        if record.results is not None:
            return "OK"
        record.aborted = True
    if execution is not None:
        execution.aborted = True
    _finish(record, [], [ABORTED])
    return "OK"


def _status(record):
    if record.aborted:
        return "aborted"
    return "done" if record.results is not None else "running"


def _find(id):
    record = _records.get(id)
    if record is None:
        raise GearsError(NO_SUCH)
    return record


def command(op, id, waiter):
    """The commands' one entry point: answers through `waiter` (kind 1 for
    results, 0 for a plain reply), or raises a GearsError with the reply's
    error.  A blocking get on a running execution keeps the waiter."""
    complete = redisgears._complete
    with _mutex:
        if op == "DUMP":
            reply = [["executionId", i, "status", _status(r), "registered", 0] for i, r in _records.items()]
            complete(waiter, reply, [], 0)
            return
        record = _find(id)
        if record.results is None:
            if op != "BLOCK":
                raise GearsError(RUNNING)
            record.waiters.append(waiter)
            return
        if op == "DROP":
            del _records[id]
            complete(waiter, ["OK"], [], 2)
            return
        results, errors = record.results, record.errors
    complete(waiter, results, errors, 1)
