"""gears_execution -- runs a flow's steps over its records (spec §7.3-7.5, §9).

An execution walks its steps in order over the whole record list.  A step
function that returns a coroutine gets an async placeholder: the coroutine
goes to the loop thread and the execution pauses, giving its pool thread
back.  When the last pending coroutine of the step ends, the execution is
queued on the pool again and picks up where it stopped.  A sync execution
that pauses this way goes on in the background (as async_local).
"""
import copy
import threading
import traceback
import types

import redisgears

import gears_loop
from gears_loop import current_execution, current_session

MAX_PENDING = {"map": 1000, "filter": 1000, "foreach": 1000, "flatmap": 1000, "accumulate": 1}


class GearsFlatError(Exception):
    """Raised by a step: the error record is the message alone."""


def step_error(e):
    """The error record of an exception raised by a synchronous step."""
    if isinstance(e, GearsFlatError):
        return str(e)
    if gears_loop.PYTHON_ATTEMPT_TRACEBACK:
        return str(traceback.format_exception(type(e), e, e.__traceback__))
    return "Error type: %s, Value: %s" % (type(e), e)


def _no_coroutine(v, what):
    if type(v) is types.CoroutineType:
        v.close()
        raise GearsFlatError("coroutine are not allow on %s" % what)
    return v


class AsyncRecord:
    """The placeholder of one pending coroutine (the original's PyFuture)."""

    def __init__(self, execution, kind, record):
        self.execution, self.kind, self.record = execution, kind, record
        self.out = []  # the records it becomes, in place in the step's output
        self.done = False

    def continueRun(self, value):
        self._finish(value, None)

    def continueFailed(self, error):
        self._finish(None, str(error))

    def _finish(self, value, error):
        if self.done:
            raise redisgears.GearsError("Can not continue with the same future twice")
        self.done = True
        ex = self.execution
        if error is not None:
            ex.errors.append(error)
        elif self.kind == "accumulate":
            ex.acc = value
        else:
            try:
                self.out.extend(ex.apply(self.kind, self.record, value))
            except Exception as e:
                ex.errors.append(str(e))
        ex.one_done()


async def drive(coro, placeholder):
    try:
        value = await coro
    except Exception as e:
        placeholder.continueFailed(e)
        return
    placeholder.continueRun(value)


class Execution:
    """One run of a flow.  `reader` yields the input records; `done(results,
    errors)` is called once at the end, on whatever thread finishes."""

    def __init__(self, steps, reader, done, allow_async, session):
        self.steps, self.reader, self.done = steps, reader, done
        self.allow_async, self.session = allow_async, session
        self.records = None
        self.errors = []
        self.index = 0       # current step
        self.pos = 0         # next input record of the current step
        self.out = []        # output slots of the current step (lists)
        self.acc = None      # accumulate's running value
        self.pending = 0
        self.paused = False
        self.mutex = threading.Lock()  # pending/paused, touched by the loop thread too

    # -- driving ---------------------------------------------------------
    def run(self):
        t1 = current_execution.set(self)
        t2 = current_session.set(self.session)
        try:
            self._run()
        except Exception as e:  # a bug here must still answer the client
            self.errors.append(step_error(e))
            self._finish()
        finally:
            current_execution.reset(t1)
            current_session.reset(t2)

    def _run(self):
        if self.records is None:
            try:
                self.records = list(self.reader())
            except Exception as e:
                self.errors.append(step_error(e))
                self.records = []
        while self.index < len(self.steps):
            kind, fn = self.steps[self.index]
            if kind in MAX_PENDING:
                if not self._record_step(kind, fn):
                    return  # paused; one_done() queues us again
                if kind == "accumulate":
                    result = [] if self.acc is None else [self.acc]
                    self.acc = None
                else:
                    result = [r for slot in self.out for r in slot]
            else:
                try:
                    result = fn(self.records)
                except Exception as e:
                    self.errors.append(step_error(e))
                    result = []
            self.records, self.out, self.pos = result, [], 0
            self.index += 1
        self._finish()

    def _finish(self):
        done, self.done = self.done, None
        if done:
            done(self.records or [], self.errors)

    def one_done(self):
        """Loop thread: a coroutine ended.  The last one resumes the run."""
        with self.mutex:
            self.pending -= 1
            resume = self.pending == 0 and self.paused
            if resume:
                self.paused = False
        if resume:
            try:
                redisgears._submit(self.run)
            except Exception as e:  # shutting down: answer instead of hanging
                self.errors.append(str(e))
                self._finish()

    def _pause_if_pending(self, limit):
        with self.mutex:
            if self.pending >= limit:
                self.paused = True
                return True
        return False

    # -- per-record steps --------------------------------------------------
    def _record_step(self, kind, fn):
        """Returns False when the execution paused."""
        limit = MAX_PENDING[kind]
        while self.pos < len(self.records):
            if self._pause_if_pending(limit):
                return False
            record = self.records[self.pos]
            self.pos += 1
            try:
                v = fn(self.acc, record) if kind == "accumulate" else fn(record)
            except Exception as e:
                self.errors.append(step_error(e))
                continue
            if type(v) is types.CoroutineType:
                self._start_async(kind, record, v)
            elif kind == "accumulate":
                self.acc = v
            else:
                try:
                    self.out.append(self.apply(kind, record, v))
                except Exception as e:
                    self.errors.append(step_error(e))
        return not self._pause_if_pending(1)

    def _start_async(self, kind, record, coro):
        if not self.allow_async:
            coro.close()
            self.errors.append("Creating async record is not allowed")
            return
        placeholder = AsyncRecord(self, kind, record)
        self.out.append(placeholder.out)
        with self.mutex:
            self.pending += 1
        gears_loop.runCoroutine(drive(coro, placeholder))

    @staticmethod
    def apply(kind, record, v):
        """The records a step's return value `v` turns `record` into."""
        if kind == "map":
            return [v]
        if kind == "filter":
            return [record] if v else []
        if kind == "foreach":
            return [record]
        # flatmap: a list is flattened, anything else is one record
        return list(v) if isinstance(v, list) else [v]


# ---- whole-list steps (synchronous only) -----------------------------------

def _groups(records, extractor):
    groups = {}
    for r in records:
        groups.setdefault(_no_coroutine(extractor(r), "extractor"), []).append(r)
    return groups


def step_count(records):
    return [len(records)]


def make_countby(extractor):
    return lambda rs: [{"key": k, "value": len(v)} for k, v in _groups(rs, extractor).items()]


def make_groupby(extractor, reducer):
    def step(rs):
        out = []
        for k, group in _groups(rs, extractor).items():
            acc = None
            for r in group:
                acc = _no_coroutine(reducer(k, acc, r), "reduce")
            out.append({"key": k, "value": acc})
        return out
    return step


def make_batchgroupby(extractor, reducer):
    return lambda rs: [{"key": k, "value": _no_coroutine(reducer(k, g), "reduce")}
                       for k, g in _groups(rs, extractor).items()]


def make_aggregate(zero, seq, comb):
    def step(rs):
        acc = copy.deepcopy(zero)
        for r in rs:
            acc = _no_coroutine(seq(acc, r), "reduce")
        return [_no_coroutine(comb(copy.deepcopy(zero), acc), "reduce")]
    return step


def make_aggregateby(extractor, zero, seq, comb):
    def step(rs):
        out = []
        for k, group in _groups(rs, extractor).items():
            acc = copy.deepcopy(zero)
            for r in group:
                acc = _no_coroutine(seq(k, acc, r), "reduce")
            out.append({"key": k, "value": _no_coroutine(comb(k, copy.deepcopy(zero), acc), "reduce")})
        return out
    return step


def make_distinct():
    def step(rs):
        seen, out = set(), []
        for r in rs:
            key = r if r.__hash__ is not None else repr(r)
            if key not in seen:
                seen.add(key)
                out.append(r)
        return out
    return step


def make_avg(extractor):
    def step(rs):
        values = [float(_no_coroutine(extractor(r), "extractor")) for r in rs]
        return [sum(values) / len(values)] if values else []
    return step
