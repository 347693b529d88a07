"""gears_loop -- the event-loop thread, sessions and futures (spec §7).

One asyncio loop runs on one Python thread for the whole server.  Every
coroutine step of every execution runs there, before and after each await,
inside the session (RG.PYEXECUTE call) that registered it.
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

_atomic = threading.local()  # .depth: inside `with atomic():` on this thread

loop = asyncio.new_event_loop()


ATOMIC_AWAIT = "await is not allow inside atomic block"


def in_atomic():
    return getattr(_atomic, "depth", 0) > 0


class NoAwaitInAtomic:
    """Awaits `coro`, but never lets it stay suspended inside `with atomic():`.
    The block holds the Redis lock on the loop thread, so any await there
    (not only of a GearsFuture) would stall the server and run the other
    coroutines under the lock; the await raises instead."""

    def __init__(self, coro):
        self.coro = coro

    def __await__(self):
        send, error = None, None
        while True:
            try:
                if error is None:
                    waiting_on = self.coro.send(send)
                else:
                    waiting_on = self.coro.throw(error)
            except StopIteration as stop:
                return stop.value
            if in_atomic():
                send, error = None, Exception(ATOMIC_AWAIT)
                continue
            try:
                send, error = (yield waiting_on), None
            except BaseException as e:  # cancellation: hand it to the coroutine
                send, error = None, e


class GearsFuture(asyncio.Future):
    """The future that redisAI's *RunAsync calls return (spec §7.1)."""

    def __init__(self, *, loop=None, gearsSession=None):
        super().__init__(loop=loop or globals()["loop"])
        self.gearsSession = gearsSession

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


def setFutureResults(fut, results):
    """Called from engine worker threads: hands the result to the loop."""
    call_on_loop(_resolve, fut, fut.set_result, results)


def setFutureException(fut, exc):
    if not isinstance(exc, BaseException):
        exc = Exception(str(exc))
    call_on_loop(_resolve, fut, fut.set_exception, exc)


def runCoroutine(coro, context=None):
    """Schedules `coro` on the loop thread; returns a concurrent future."""
    if context is None:
        return asyncio.run_coroutine_threadsafe(coro, loop)
    return context.run(asyncio.run_coroutine_threadsafe, coro, loop)


class atomic:
    """Holds the Redis lock for the block (the GIL is released while waiting)."""

    def __enter__(self):
        if getattr(_atomic, "depth", 0):
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
