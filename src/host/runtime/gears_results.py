"""gears_results -- executions started by `RG.PYEXECUTE ... UNBLOCKING`: the
command replies with the execution's id at once, and the results wait here
for RG.GETRESULTS, RG.GETRESULTSBLOCKING, RG.DROPEXECUTION and
RG.DUMPEXECUTIONS (src/host/commands.c), as in RedisGears.  The last
MAX_DONE finished executions are kept (RedisGears' default MaxExecutions);
running ones always are."""
import collections
import threading

import redisgears
from redisgears import GearsError

MAX_DONE = 1000
NO_SUCH = "execution does not exist"
RUNNING = "execution is still running"


class Record:
    __slots__ = ("results", "errors", "waiters")

    def __init__(self):
        self.results = None  # a list once done
        self.errors = None
        self.waiters = []    # RG.GETRESULTSBLOCKING clients


_records = collections.OrderedDict()  # execution id -> Record, oldest first
_mutex = threading.Lock()  # executions end on any thread


def start(id):
    """A new execution `id`; returns its done(results, errors)."""
    record = Record()
    with _mutex:
        _records[id] = record

    def done(results, errors):
        with _mutex:
            record.results, record.errors = list(results), list(errors)
            waiters, record.waiters = record.waiters, []
            finished = [i for i, r in _records.items() if r.results is not None]
            for old in finished[:max(0, len(finished) - MAX_DONE)]:
                del _records[old]
        for waiter in waiters:
            redisgears._complete(waiter, record.results, record.errors, 1)
    return done


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
            reply = [["executionId", i, "status", "done" if r.results is not None else "running",
                      "registered", 0] for i, r in _records.items()]
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
