"""gears_execution -- runs a flow's steps over its records (spec §7.3-7.5, §9).

An execution walks its steps in order over the whole record list.  A step
function that returns a coroutine gets an async placeholder: the coroutine
goes to the loop thread and the execution pauses, giving its thread back.
When the last pending coroutine of the step ends, the execution picks up
where it stopped.  A plain step that returns a gearsFuture() pauses it the
same way, until someone continues the future.  A sync execution that pauses
this way goes on in the background (as async_local); its coroutines stay on
the main thread as long as they await only the runs they started
(gears_loop.MainDriver).

Where steps run (each move to another thread costs a wake-up, the main cost
of a short flow): user code in a plain `def` step runs on the pool (or, for
sync, on the main thread); coroutine code runs on the loop thread (for sync,
on the main thread until it awaits something other than its own runs).  So an
execution that reaches an `async def` step moves to the loop thread as a
whole (calling the step there only makes the coroutine), and goes on there
after the coroutines end for as long as the steps allow it: `async def`
steps and the runtime's own steps (convertToStr's str, count).  It goes
back to the pool at the next plain `def` step.
"""
import importlib.util
import inspect
import os
import threading
import traceback
import types

import redisgears

import gears_loop
from gears_loop import current_execution, current_session, current_user

NO_ASYNC_RECORD = "Creating async record is not allowed"
MAX_PENDING = {"map": 1000, "filter": 1000, "foreach": 1000, "flatmap": 1000, "accumulate": 1}
RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))
_redisai = importlib.util.find_spec("redisai_ext")  # found, not imported
REDISAI_DIR = os.path.dirname(os.path.abspath(_redisai.origin)) if _redisai and _redisai.origin else None


class GearsFlatError(Exception):
    """Raised by a step: the error record is the message alone."""


def error_text(e):
    """str(e), or what Python's own tracebacks print when that fails: an
    error record must never fail to be made (its execution would not end)."""
    try:
        return str(e)
    except BaseException:
        return "<exception str() failed>"


def step_error(e):
    """The error record of an exception raised by a synchronous step."""
    if isinstance(e, GearsFlatError):
        return error_text(e)
    if gears_loop.PYTHON_ATTEMPT_TRACEBACK:
        te = traceback.TracebackException(type(e), e, _user_frames(e.__traceback__))
        te.stack = traceback.StackSummary.from_list(_without_api_frames(te.stack))
        return str(list(te.format()))
    return "Error type: %s, Value: %s" % (type(e), error_text(e))


def _without_api_frames(stack):
    """The stack without the frames of the redisAI wrappers it ends in: the
    original's redisAI is C, whose tracebacks end at the user's call."""
    stack = list(stack)
    while stack and os.path.dirname(os.path.abspath(stack[-1].filename)) == REDISAI_DIR:
        stack.pop()
    return stack


def _user_frames(tb):
    """The traceback from the user's step on: the runtime frames that called
    it are noise (the original calls steps from C, so it has none)."""
    while tb is not None and os.path.dirname(tb.tb_frame.f_code.co_filename) == RUNTIME_DIR:
        tb = tb.tb_next
    return tb


def _no_coroutine(v, what):
    if type(v) is types.CoroutineType:
        v.close()
        raise GearsFlatError("coroutine are not allow on %s" % what)
    return v


class Fold:
    """The function of an accumulate step: fn(acc, record), or, with an
    extractor, fn(key, acc, record) with one accumulator per key (the
    original's accumulateby).  A key's first accumulator is zero(), or None."""

    def __init__(self, fn, zero=None, extractor=None):
        self.fn, self.zero, self.extractor = fn, zero, extractor

    def key_of(self, record):
        if self.extractor is None:
            return None
        return _no_coroutine(self.extractor(record), "extractor")

    def call(self, accs, key, record):
        """What fn returns for `record` under `key`; accs maps key -> acc."""
        if key in accs:
            acc = accs[key]
        else:
            acc = self.zero() if self.zero is not None else None
        if self.extractor is None:
            return self.fn(acc, record)
        return self.fn(key, acc, record)

    def records(self, accs):
        """The step's output: nothing when no record was accumulated."""
        if self.extractor is None:
            return [accs[None]] if None in accs else []
        return [{"key": k, "value": v} for k, v in accs.items()]


LOOP, ANY, POOL = "loop", "any", "pool"


def step_thread(kind, fn):
    """Where a step runs best: an `async def` record step on the loop (its
    call runs no user code), the runtime's own steps anywhere, and any other
    step -- user code -- on the pool."""
    if kind == "accumulate":
        coro = fn.extractor is None and inspect.iscoroutinefunction(fn.fn)
    else:
        coro = kind in MAX_PENDING and inspect.iscoroutinefunction(fn)
    if coro:
        return LOOP
    return ANY if fn is str or fn is step_count else POOL


def plan(steps):
    """(kind, fn) pairs -> (kind, fn, thread) triples, decided once per flow."""
    return [(kind, fn, step_thread(kind, fn)) for kind, fn in steps]


class AsyncRecord:
    """The placeholder of one pending coroutine (the original's PyFuture)."""

    def __init__(self, execution, kind, record, key):
        self.execution, self.kind, self.record, self.key = execution, kind, record, key
        self.out = []  # the records it becomes, in place in the step's output
        self.done = False

    def continueRun(self, value):
        self._finish(value, None)

    def continueFailed(self, error):
        self._finish(None, error_text(error))

    def finish(self, value, error):
        """How a coroutine's driver reports its end (MainDriver, _finish_on_loop)."""
        if error is not None:
            self.continueFailed(error)
        else:
            self.continueRun(value)

    def _finish(self, value, error):
        if self.done:
            raise redisgears.GearsError("Can not continue with the same future twice")
        self.done = True
        ex = self.execution
        if error is not None:
            ex.errors.append(error)
        elif self.kind == "accumulate":
            ex.acc[self.key] = value
        else:
            try:
                self.out.extend(ex.apply(self.kind, self.record, value))
            except Exception as e:
                ex.errors.append(error_text(e))
        ex.one_done()


# ---- gearsFuture(): a step that a future, not a coroutine, continues ------

OUTSIDE_STEP = "Can not create gearsFuture outside of step"
ASYNC_TWICE = "Can not create async record twice on the same step"
NO_ASYNC_STEP = "Step does not support async"
CONTINUED_TWICE = "Can not continue with the same future twice"


class StepCall:
    """The step function call in progress on one thread, for gearsFuture().
    `kind` is None for a step that takes no async record."""

    __slots__ = ("thread", "kind", "record", "key", "future")

    def __init__(self, kind, record=None, key=None):
        self.thread = threading.get_ident()
        self.kind, self.record, self.key = kind, record, key
        self.future = None


class StepFuture:
    """What gearsFuture() returns: the record of the step call that made it
    is what continueRun(value) gives (for map; filter keeps the record if
    value is true, and so on, as for an `async def` step), or an error record
    with continueFailed(error).  Either may be called once, from any thread;
    the execution goes on on the loop thread (user steps on the pool), never
    inside the caller, which may be another flow holding the Redis lock."""

    def __init__(self, finish):
        self._finish = finish  # finish(value, error text or None), on the loop thread
        self._lock = threading.Lock()
        self._done = False
        # While the step that made it runs, a continue* from that step is
        # held until it returns: were it sent to the loop at once, the loop
        # could end the execution with it while the step goes on to raise.
        self._step_thread = threading.get_ident()
        self._held = None

    def continueRun(self, value):
        self._settle(value, None)

    def continueFailed(self, error):
        self._settle(None, error_text(error))

    def _settle(self, value, error):
        if not self._claim():
            raise redisgears.GearsError(CONTINUED_TWICE)
        with self._lock:
            if self._step_thread == threading.get_ident():
                self._held = (value, error)
                return
        gears_loop.call_on_loop(self._finish, value, error)

    def step_returned(self):
        """The step that made it returned: a continue* it made goes on now."""
        with self._lock:
            self._step_thread, held, self._held = None, self._held, None
        if held is not None:
            gears_loop.call_on_loop(self._finish, *held)

    def step_raised(self):
        """The step that made it failed: True when the step's error decides
        the record (what the step itself continued is dropped), False when
        another thread's continue* came first."""
        with self._lock:
            self._step_thread, held, self._held = None, self._held, None
        return held is not None or self._claim()

    def _claim(self):
        """True once: for the first continue*, or the step's own failure."""
        with self._lock:
            claimed, self._done = not self._done, True
        return claimed


def gearsFuture():
    """A future for the record the calling step function is working on; the
    function returns it, and whoever continues it decides the record."""
    ex = current_execution.get()
    call = getattr(ex, "calling", None)
    if call is None or call.thread != threading.get_ident():
        raise redisgears.GearsError(OUTSIDE_STEP)
    if call.kind is None:
        raise redisgears.GearsError(NO_ASYNC_STEP)
    if call.future is not None:
        raise redisgears.GearsError(ASYNC_TWICE)
    if not ex.allow_async:
        raise redisgears.GearsError(NO_ASYNC_RECORD)
    call.future = ex.future_for(call)
    return call.future


def _abandoned(call, v):
    """After a step call that made a future: an error text for what the
    step did beside it (a coroutine is a second async record), or None."""
    if type(v) is types.CoroutineType:
        v.close()
        return ASYNC_TWICE
    return None


async def drive(coro, placeholder):
    try:
        value = await gears_loop.NoAwaitInAtomic(coro)
    except BaseException as e:  # SystemExit too: it would stop the loop thread
        placeholder.continueFailed(e)
        return
    placeholder.continueRun(value)


class Execution:
    """One run of a flow.  `reader` yields the input records; `done(results,
    errors)` is called once at the end, on whatever thread finishes.  `user`
    is the ACL user its steps act for (gears_loop.current_user)."""

    def __init__(self, steps, reader, done, allow_async, session, hook=None, user=None):
        self.steps, self.reader, self.done = steps, reader, done
        self.allow_async, self.session, self.user = allow_async, session, user
        self.hook = hook      # the hooked command's call (gears_hooks.HookCall), if one
        self.records = None
        self.errors = []
        self.index = 0       # current step
        self.pos = 0         # next input record of the current step
        self.out = []        # output of the current step: records and AsyncRecords
        self.waited = False  # self.out holds AsyncRecords
        self.acc = {}        # accumulate's running values, by key
        self.pending = 0
        self.paused = False
        self.resumed = False  # paused once: for sync, in the background since
        self.calling = None   # the step call in progress (StepCall), for gearsFuture()
        self.mutex = threading.Lock()  # pending/paused, touched by the loop thread too
        self.aborted = False  # RG.ABORTEXECUTION: no further step runs

    # -- driving ---------------------------------------------------------
    def run(self):
        t1 = current_execution.set(self)
        t2 = current_session.set(self.session)
        t3 = current_user.set(self.user)
        try:
            self._run()
        except BaseException as e:  # a bug or a SystemExit must still answer the client
            self.errors.append(step_error(e))
            self._finish()
        finally:
            current_execution.reset(t1)
            current_session.reset(t2)
            current_user.reset(t3)

    def _run(self):
        if self.records is None:
            try:
                self.records = list(self.reader())
            except BaseException as e:
                self.errors.append(step_error(e))
                self.records = []
        on_loop = gears_loop.on_loop()
        while self.index < len(self.steps) and not self.aborted:
            kind, fn, where = self.steps[self.index]
            if self._moved(kind, where, on_loop):
                return
            if kind in MAX_PENDING:
                if not self._record_step(kind, fn):
                    return  # paused; the last coroutine to end resumes us (one_done)
                if kind == "accumulate":
                    result, self.acc = fn.records(self.acc), {}
                elif self.waited:  # put each coroutine's records in its place
                    result, self.waited = [], False
                    for r in self.out:
                        if type(r) is AsyncRecord:
                            result.extend(r.out)
                        else:
                            result.append(r)
                else:
                    result = self.out
            else:
                self.calling = StepCall(None)
                try:
                    result = fn(self.records)
                except BaseException as e:
                    self.errors.append(step_error(e))
                    result = []
                finally:
                    self.calling = None
            self.records, self.out, self.pos = result, [], 0
            self.index += 1
        self._finish()

    def _finish(self):
        done, self.done = self.done, None
        if done:
            done(self.records or [], self.errors)

    def _moved(self, kind, where, on_loop):
        """Hands the run to the thread the step needs; True if it did.  A
        record step with no records left to call needs no thread of its own."""
        if kind in MAX_PENDING and self.pos >= len(self.records):
            return False
        if gears_loop.on_main():
            # sync: every step runs here until an await paused the run; then,
            # as async_local, its plain steps go on in the background (the
            # coroutines and the runtime's own steps stay: nothing to wait for)
            return self.resumed and where == POOL and self._to_pool()
        if on_loop:
            return where == POOL and self._to_pool()
        if where != LOOP or not self.allow_async:
            return False
        try:
            redisgears._loop_call(self.run)
        except Exception:  # shutting down: make the coroutines here
            return False
        return True

    def _to_pool(self):
        try:
            redisgears._submit(self.run)
        except Exception as e:  # shutting down: answer instead of hanging
            self.errors.append(error_text(e))
            self._finish()
        return True

    def one_done(self):
        """Loop thread (main thread for a MainDriver): a coroutine ended.
        The last one resumes the run, right here as long as the steps may
        run on this thread."""
        with self.mutex:
            self.pending -= 1
            resume = self.pending == 0 and self.paused
            if resume:
                self.paused = False
                self.resumed = True
        if resume:
            self.run()

    def _pause_if_pending(self, limit):
        with self.mutex:
            if self.pending >= limit:
                self.paused = True
                return True
        return False

    # -- per-record steps --------------------------------------------------
    def _record_step(self, kind, fn):
        """Returns False when the execution paused.  `pending` only grows on
        this thread, so reading it without the mutex is a safe first check."""
        limit = MAX_PENDING[kind]
        records, out, n = self.records, self.out, len(self.records)
        call = StepCall(kind)  # one for the step's calls, filled per record
        while self.pos < n:
            if self.pending >= limit and self._pause_if_pending(limit):
                return False
            record = records[self.pos]
            self.pos += 1
            call.record, call.key, call.future = record, None, None
            try:
                key = call.key = fn.key_of(record) if kind == "accumulate" else None
                self.calling = call
                v = fn.call(self.acc, key, record) if kind == "accumulate" else fn(record)
                self.calling = None
                if call.future is not None:  # the future decides the record
                    error = _abandoned(call, v)
                    if error is None:
                        call.future.step_returned()
                    elif call.future.step_raised():
                        call.future._finish(None, error)
                elif type(v) is types.CoroutineType:
                    self._start_async(kind, record, key, v)
                elif kind == "map":
                    out.append(v)
                elif kind == "accumulate":
                    self.acc[key] = v
                else:
                    out.extend(self.apply(kind, record, v))
            except BaseException as e:
                self.calling = None
                if call.future is not None and call.future.step_raised():
                    call.future._finish(None, step_error(e))
                else:
                    self.errors.append(step_error(e))
        return not (self.pending and self._pause_if_pending(1))

    def future_for(self, call):
        """gearsFuture() in a record step: a placeholder, pending like a
        coroutine's, that the StepFuture settles."""
        placeholder = AsyncRecord(self, call.kind, call.record, call.key)
        self.out.append(placeholder)
        self.waited = True
        with self.mutex:
            self.pending += 1
        return StepFuture(placeholder._finish)

    def _start_async(self, kind, record, key, coro):
        if not self.allow_async:
            coro.close()
            self.errors.append(NO_ASYNC_RECORD)
            return
        placeholder = AsyncRecord(self, kind, record, key)
        self.out.append(placeholder)
        self.waited = True
        with self.mutex:
            self.pending += 1
        if gears_loop.on_main():  # sync: stepped here, see MainDriver
            gears_loop.MainDriver(coro, placeholder.finish).step()
        elif gears_loop.on_loop():  # no wake-up needed
            gears_loop.loop.create_task(drive(coro, placeholder))
        else:
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


class OneMap:
    """RG.TRIGGER of a sync flow that is one `map` step, the usual
    GB('CommandReader').map(fn).register(trigger=..., mode='sync'), on
    Redis's main thread.  Same outcome as an Execution of that flow, without
    its per-step bookkeeping (a quarter of a short flow's time): one record,
    one call, and a coroutine stepped here by a MainDriver; then str() of
    the result if the flow ends with convertToStr's step.  It stands as the
    current execution for isAsyncAllow()."""

    __slots__ = ("allow_async", "done", "convert", "calling", "hook")

    @staticmethod
    def shape(steps):
        """(fn, convert) if `steps` (plan()'s triples) fit, else None."""
        kinds = [(kind, fn) for kind, fn, _ in steps]
        if len(kinds) == 2 and kinds[1] == ("map", str):
            kinds.pop()
        if len(kinds) != 1 or kinds[0][0] != "map":
            return None
        return kinds[0][1], len(steps) == 2

    def __init__(self, done, allow_async, convert, hook=None):
        self.done, self.allow_async, self.convert = done, allow_async, convert
        self.calling, self.hook = None, hook

    def run(self, fn, record, session, user):
        t1 = current_execution.set(self)
        t2 = current_session.set(session)
        t3 = current_user.set(user)
        self.calling = call = StepCall("map", record)
        try:
            try:
                v = fn(record)
            except BaseException as e:  # its error, even if it continued its future first
                if call.future is None or call.future.step_raised():
                    self.done([], [step_error(e)])
                return
            finally:
                self.calling = None
            if call.future is not None:  # its continue* answers
                error = _abandoned(call, v)
                if error is None:
                    call.future.step_returned()
                elif call.future.step_raised():
                    self.done([], [error])
            elif type(v) is not types.CoroutineType:
                self._finish(v, None)
            elif not self.allow_async:
                v.close()
                self.done([], [NO_ASYNC_RECORD])
            else:  # the driver copies the context with both variables set
                gears_loop.MainDriver(v, self._finish).step()
        finally:
            current_execution.reset(t1)
            current_session.reset(t2)
            current_user.reset(t3)

    def future_for(self, call):
        return StepFuture(self._finish)

    def _finish(self, value, error):
        if error is not None:
            self.done([], [error_text(error)])
            return
        if self.convert:
            try:
                value = str(value)
            except BaseException as e:
                self.done([], [step_error(e)])
                return
        self.done([value], [])


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
