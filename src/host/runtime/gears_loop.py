"""gears_loop -- the event-loop thread, sessions and futures (spec §7).

One asyncio loop runs on one Python thread for the whole server.  Coroutine
steps run there, before and after each await, inside the session
(RG.PYEXECUTE call) that registered it -- except in sync executions, which
step their coroutines on Redis's main thread (MainDriver) for as long as
they await only the futures of runs they started.
"""
import asyncio
import contextvars
import threading

import redisgears

# The session and execution the running code belongs to.  Coroutines get a
# copy of the context they were scheduled from, so this follows them across
# awaits onto the loop thread.
current_session = contextvars.ContextVar("gears_session", default=None)
current_execution = contextvars.ContextVar("gears_execution", default=None)
# The ACL user its execute() calls and redisAI key functions act for (a
# capsule; None: full rights), read by the C side (src/host/flow_user.c).
current_user = redisgears._current_user

# A failing step's error record: its traceback (1) or its type and value (0);
# the PythonAttemptTraceback setting (gears_config).
PYTHON_ATTEMPT_TRACEBACK = 1


class _AtomicDepth(threading.local):
    """1 inside `with atomic():` on this thread.  A class default, because
    getattr(local, name, 0) on a missing name raises and catches an
    AttributeError each time: a microsecond on every await."""
    depth = 0


_atomic = _AtomicDepth()

loop = asyncio.new_event_loop()


ATOMIC_AWAIT = "await is not allow inside atomic block"


def in_atomic():
    return _atomic.depth > 0


_NOTHING = object()  # no value yielded yet (a coroutine may yield None)


class NoAwaitInAtomic:
    """Awaits `coro`, but never lets it stay suspended inside `with atomic():`.
    The block holds the Redis lock on the loop thread, so any await there
    (not only of a GearsFuture) would stall the server and run the other
    coroutines under the lock; the await raises instead.  `yielded` is what
    the coroutine last yielded when a MainDriver began it."""

    def __init__(self, coro, yielded=_NOTHING):
        self.coro, self.yielded = coro, yielded

    def __await__(self):
        coro, waiting_on = self.coro, self.yielded
        send, error = None, None
        while True:
            if waiting_on is _NOTHING:
                try:
                    waiting_on = coro.send(send) if error is None else coro.throw(error)
                except StopIteration as stop:
                    return stop.value
                if in_atomic():
                    send, error, waiting_on = None, Exception(ATOMIC_AWAIT), _NOTHING
                    continue
            try:
                send, error = (yield waiting_on), None
            except BaseException as e:  # cancellation: hand it to the coroutine
                send, error = None, e
            waiting_on = _NOTHING


class GearsFuture(asyncio.Future):
    """The future that redisAI's *RunAsync calls return (spec §7.1).  One
    made while a MainDriver steps is resolved on the main thread."""

    def __init__(self, *, loop=None, gearsSession=None):
        super().__init__(loop=loop or globals()["loop"])
        self.gearsSession = gearsSession
        self._on_main = _driving is not None and on_main()
        self._main_waiter = None  # the MainDriver waiting for it

    def __await__(self):
        if in_atomic():
            raise Exception(ATOMIC_AWAIT)
        return (yield from super().__await__())

    __iter__ = __await__

    def add_done_callback(self, fn, *, context=None):
        session = self.gearsSession

        def wrapped(fut):
            token = current_session.set(session)
            try:
                fn(fut)
            except Exception as e:  # a callback must not break the loop
                redisgears.log("future callback failed: %s" % e, level="warning")
            finally:
                current_session.reset(token)

        return super().add_done_callback(wrapped, context=context)


def createFuture():
    return GearsFuture(loop=loop, gearsSession=current_session.get())


def _resolve(fut, setter, value):
    if not fut.done():
        setter(value)


def call_on_loop(fn, *args):
    """fn(*args) on the loop thread, soon (from any thread)."""
    if on_loop():
        loop.call_soon(fn, *args)
    else:
        redisgears._loop_call(fn, *args)


def _hand_over(fut, setter, value):
    if not getattr(fut, "_on_main", False):
        call_on_loop(_resolve, fut, setter, value)
    elif on_main():  # redisAI delivers there itself for such a future
        _resolve_on_main(fut, setter, value)
    else:
        redisgears._main_call(_resolve_on_main, fut, setter, value)


def setFutureResults(fut, results):
    """Called by redisAI when a run ends: hands the result to the thread
    that waits for it (the loop, or the main thread for a MainDriver)."""
    _hand_over(fut, fut.set_result, results)


def setFutureException(fut, exc):
    if not isinstance(exc, BaseException):
        exc = Exception(str(exc))
    _hand_over(fut, fut.set_exception, exc)


def _noop():
    pass


def _wake_loop_if_scheduled():
    """asyncio schedules with loop.call_soon, which does not wake a loop
    called from another thread: code on the main thread that resolved a
    future with done callbacks, or started a task, wakes it here."""
    if loop._ready:
        redisgears._loop_call(_noop)


def _resolve_on_main(fut, setter, value):
    """Main thread: resolves `fut`, then steps the driver waiting for it."""
    _resolve(fut, setter, value)
    driver, fut._main_waiter = fut._main_waiter, None
    if driver is not None:
        driver.step()
    _wake_loop_if_scheduled()


MAIN_IDENT = threading.get_ident()  # this module is imported on Redis's main thread
_driving = None  # the MainDriver stepping right now (main thread only)


def on_main():
    """True on Redis's main thread."""
    return threading.get_ident() == MAIN_IDENT


class MainDriver:
    """Steps one coroutine of a sync execution on Redis's main thread, under
    the Redis lock, as the execution itself runs.

    While the coroutine awaits only GearsFutures made as it runs (a redisAI
    *RunAsync call), it stays here: redisAI delivers the outcome of such a
    run on the main thread itself (the host API's run_on_main, so the worker
    never takes the GIL), the same two hand-offs as AI.MODELEXECUTE, where
    the loop thread would add two more.  Awaiting anything else
    (asyncio.sleep, a task, a foreign future) gives the rest of the
    coroutine to the loop thread for good.  `done(value, error)` is
    called once, on the thread where the coroutine ends."""

    def __init__(self, coro, done):
        self.coro = coro
        self.done = done
        self.context = contextvars.copy_context()  # the session, across awaits

    def step(self):
        outcome = self.context.run(self._advance)
        _wake_loop_if_scheduled()
        if outcome is not None:  # called here, with no driver marked as stepping
            self.done(*outcome)

    def _advance(self):
        """Runs the coroutine to its next pause.  Returns (value, error) when
        it ended, None when it waits."""
        global _driving
        outer_driver, outer_loop = _driving, asyncio._get_running_loop()
        _driving = self
        asyncio._set_running_loop(loop)  # asyncio calls made here find the loop
        coro, error = self.coro, None
        try:
            while True:
                try:
                    yielded = coro.send(None) if error is None else coro.throw(error)
                except StopIteration as stop:
                    return stop.value, None
                except BaseException as e:
                    return None, e
                error = None
                if type(yielded) is GearsFuture and yielded._on_main:
                    yielded._asyncio_future_blocking = False
                    if yielded.done():
                        continue
                    yielded._main_waiter = self
                    return None
                if in_atomic():  # as NoAwaitInAtomic: no other await under the lock
                    error = Exception(ATOMIC_AWAIT)
                    continue
                runCoroutine(_finish_on_loop(coro, yielded, self.done))
                return None
        finally:
            _driving = outer_driver
            asyncio._set_running_loop(outer_loop)


async def _finish_on_loop(coro, yielded, done):
    """The rest of a coroutine a MainDriver began, which now waits for
    `yielded`: stepped on the loop thread."""
    try:
        value = await NoAwaitInAtomic(coro, yielded)
    except BaseException as e:
        done(None, e)
        return
    done(value, None)


def runCoroutine(coro, context=None):
    """Schedules `coro` on the loop thread; returns a concurrent future."""
    if context is None:
        return asyncio.run_coroutine_threadsafe(coro, loop)
    return context.run(asyncio.run_coroutine_threadsafe, coro, loop)


class atomic:
    """Holds the Redis lock for the block (the GIL is released while waiting)."""

    def __enter__(self):
        if _atomic.depth:
            raise redisgears.GearsError("Already inside an atomic block")
        redisgears._lock()
        _atomic.depth = 1
        return self

    def __exit__(self, *exc):
        _atomic.depth = 0
        redisgears._unlock()
        return False


_loop_ident = None


def on_loop():
    """True on the loop thread."""
    return threading.get_ident() == _loop_ident


def _loop_main():
    global _loop_ident
    _loop_ident = threading.get_ident()
    asyncio.set_event_loop(loop)
    # RG.TRIGGER queues flows that start with an `async def` step in C and
    # wakes this eventfd (src/host/loopq.c); the drain runs them here.
    loop.add_reader(redisgears._loop_fd(), redisgears._loop_drain)
    loop.run_forever()


def start():
    threading.Thread(target=_loop_main, name="gears-loop", daemon=True).start()
