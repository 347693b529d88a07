"""Model and script runners (spec §3 #7-#17, §4.2-§4.3, §5.2, §7).

A runner wraps one engine run context and is single-shot: running it takes
the context out of the runner (``_ctx = None``, under the runner's lock, see
_take), so a second run or an input added later -- even from another thread
while the first one is still inside C without the GIL -- sees ``... is
invalid``.  A context is
freed exactly once: by the C run function (sync), by the completion callback
(async), or by the cffi destructor when an unrun runner dies.

Queued runs complete through ``rx_run_done`` (a cffi ``extern "Python+C"``
callback).  The C side has already gathered the outputs and freed the
context without the GIL; the callback only wraps the outputs and hands them
to the host (``setFutureResults`` / ``setFutureException``, which move to
the thread that waits).  It runs on the engine worker, or, for a future the
host resolves on Redis's main thread (a sync flow's run: the future's
``_on_main``), on the main thread: the C side hands it over there, so the
worker never waits for the GIL.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, List

from . import _api
from ._api import PyTensor, RX_OK, RX_ERROR, _Sealed, _argc, _bind, _check, _error, _set, _wrap
from ._redisai_ext import ffi, lib

# ---- outcomes and futures --------------------------------------------------

# handle address -> (handle, future): the one reference to each pending
# future, held until its run completes (or fails to queue).
_pending: dict = {}


def _outcome(res) -> Any:
    """The outputs of a run as PyTensors (each takes its engine reference),
    or the engine's error text (str)."""
    if res.err.code != RX_OK:
        return ffi.string(res.err.msg).decode("utf-8", "replace")
    tensors = []
    for i in range(res.n):
        tensors.append(_wrap(res.tensors[i], res.dtypes[i]))
        res.tensors[i] = ffi.NULL  # now owned by the PyTensor
    return tensors


def _log(msg: str) -> None:
    try:
        import redisgears
        redisgears.log(msg, level="warning")
    except Exception:
        pass


@ffi.def_extern()
def rx_run_done(handle, res):
    """Engine worker or main thread (see above), GIL held by cffi for this
    call only."""
    entry = _pending.pop(int(ffi.cast("uintptr_t", handle)), None)
    if entry is None:
        return
    future = entry[1]
    try:
        outcome = _outcome(res)
        if isinstance(outcome, str):
            # Becomes a plain Exception(outcome) on the loop (spec §7.4).
            _api.host.setFutureException(future, outcome)
        else:
            _api.host.setFutureResults(future, outcome)
    except Exception as e:
        _log("Error happened when releasing execution future, error='%s'" % e)


# ---- one thread at a time per runner ------------------------------------------
# cffi releases the GIL around each C call, so two Python threads could change
# one run context at once (the engine's context is not thread-safe), or add to
# a context another thread has just queued to run: both crashed the server.
# Each valid runner has a lock, held from reading its context to the end of
# the C call that changes it, and while a run takes the context away.  No C
# call made under it waits for the Redis lock (OpsFromString takes that one
# first), so a thread holding the Redis lock can always get it.


def _take(runner: Any, check: Callable, slot: str = "_ctx") -> Any:
    """Takes the context out of `runner` (a run consumes it)."""
    with runner._lock:
        ctx = check(runner)
        _set(runner, slot, None)
    return ctx


def _run_sync(runner: Any, run: Callable, check: Callable) -> List[PyTensor]:
    ctx = _take(runner, check)  # consumed whatever the outcome
    ffi.gc(ctx, None)   # the C run frees the context
    res = ffi.new("rx_result *")
    run(ctx, res)       # the GIL is released for the whole run
    try:
        outcome = _outcome(res)
    finally:
        lib.rx_result_clear(res)
    if isinstance(outcome, str):
        raise _error(outcome)
    return outcome


def _submit(queue: Callable, what: Any) -> Any:
    """Queues a run with `queue(what, handle, on_main, err)` (bound
    before); returns its future, which rx_run_done resolves.  Raises
    GearsError if the run was not queued."""
    future = _api.host.createFuture()
    handle = ffi.new_handle(future)
    key = int(ffi.cast("uintptr_t", handle))
    _pending[key] = (handle, future)  # before queueing: the run may end at once
    err = ffi.new("rx_err *")
    if queue(what, handle, getattr(future, "_on_main", False), err) != RX_OK:
        del _pending[key]
        _check(RX_ERROR, err)
    return future


def _run_async(runner: Any, run: Callable, check: Callable) -> Any:
    ctx = _take(runner, check)
    try:
        future = _submit(run, ctx)
    except BaseException:
        _set(runner, "_ctx", ctx)  # not queued: the runner keeps its context
        raise
    ffi.gc(ctx, None)  # queued: the completion callback frees the context
    return future


def _tensor_ptr(t: Any, type_msg: str) -> Any:
    if not isinstance(t, PyTensor):
        raise _error(type_msg)
    if getattr(t, "_ptr", None) is None:
        raise _error("PyTensor is invalid")
    return t._ptr


def _name(s: Any, msg: str) -> bytes:
    if not isinstance(s, str):
        raise _error(msg)
    return s.encode("utf-8", "surrogateescape")


# ---- PyGraphRunner -----------------------------------------------------------

class PyGraphRunner(_Sealed):
    """A model run context (single-shot).  ``PyGraphRunner()`` from Python
    makes an invalid runner."""

    __slots__ = ("_ctx", "_lock")

    def __init__(self) -> None:
        _set(self, "_ctx", None)

    def __str__(self) -> str:
        return "PyGraphRunner to str"

    def __reduce__(self):
        raise TypeError("cannot pickle 'redisgears.PyGraphRunner' object")


PyGraphRunner.__module__ = "redisgears"


def _model_runner(r: Any) -> Any:
    if not isinstance(r, PyGraphRunner):
        raise _error("Given argument is not of type PyGraphRunner")
    if getattr(r, "_ctx", None) is None:
        raise _error("PyGraphRunner is invalid")
    return r._ctx


def createModelRunner(*args: Any) -> PyGraphRunner:
    """open TF graph by key name"""
    _bind()
    _argc(args, 1, "createModelRunner")
    key = _name(args[0], "key argument must be a string")
    err = ffi.new("rx_err *")
    user = _api.host._current_user_address()  # whose ACL the key must pass
    ctx = lib.rx_model_runner_create(key, len(key), user, err)  # takes the Redis lock
    if ctx == ffi.NULL:
        _check(RX_ERROR, err)
    r = PyGraphRunner()
    _set(r, "_ctx", ffi.gc(ctx, lib.rx_model_runner_free))
    _set(r, "_lock", threading.Lock())
    return r


def modelRunnerAddInput(*args: Any) -> int:
    """add input to graph runner"""
    _bind()
    _argc(args, 3, "modelRunnerAddInput")
    r = args[0]
    _model_runner(r)
    name = _name(args[1], "input name argument must be a string")
    t = _tensor_ptr(args[2], "Given argument is not of type PyTensorType")
    err = ffi.new("rx_err *")
    with r._lock:
        rc = lib.rx_model_runner_add_input(_model_runner(r), name, t, err)  # the context takes a reference
    _check(rc, err)
    return 1


def modelRunnerAddOutput(*args: Any) -> int:
    """add output to graph runner"""
    _bind()
    _argc(args, 2, "modelRunnerAddOutput")
    r = args[0]
    _model_runner(r)
    name = _name(args[1], "output name argument must be a string")
    err = ffi.new("rx_err *")
    with r._lock:
        rc = lib.rx_model_runner_add_output(_model_runner(r), name, err)
    _check(rc, err)
    return 1


def modelRunnerRun(*args: Any) -> List[PyTensor]:
    """run graph runner"""
    _bind()
    _argc(args, 1, "modelRunnerRun")
    _model_runner(args[0])
    return _run_sync(args[0], lib.rx_model_runner_run, _model_runner)


def modelRunnerRunAsync(*args: Any) -> Any:
    """run graph runner async"""
    _bind()
    if not lib.rx_has_entry(b"ModelRunAsync"):
        raise _error("Asynchronous run is not supported in RedisAI version")
    _argc(args, 1, "modelRunnerRunAsync")
    _model_runner(args[0])
    return _run_async(args[0], lib.rx_model_runner_run_async, _model_runner)


# ---- PyTorchScriptRunner -----------------------------------------------------

class PyTorchScriptRunner(_Sealed):
    """A script run context (single-shot); only createScriptRunner makes one."""

    __slots__ = ("_ctx", "_lock")

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'redisgears.PyTorchScriptRunner' instances")

    def __str__(self) -> str:
        return "PyTorchScriptRunner to str"

    def __reduce__(self):
        raise TypeError("cannot pickle 'redisgears.PyTorchScriptRunner' object")


PyTorchScriptRunner.__module__ = "redisgears"


def _script_runner(r: Any) -> Any:
    if not isinstance(r, PyTorchScriptRunner):
        raise _error("Given argument is not of type PyTorchScriptRunner")
    if getattr(r, "_ctx", None) is None:
        raise _error("PyTorchScriptRunner is invalid")
    return r._ctx


def createScriptRunner(*args: Any) -> PyTorchScriptRunner:
    """open a torch script by key name"""
    _bind()
    _argc(args, 2, "createScriptRunner")
    key = _name(args[0], "key name argument must be a string")
    fn = _name(args[1], "function name argument must be a string")
    if b"\0" in fn:  # the engine takes a C string: "f\0x" would run f
        raise _error("function name contains a NUL byte")
    err = ffi.new("rx_err *")
    user = _api.host._current_user_address()  # whose ACL the key must pass
    ctx = lib.rx_script_runner_create(key, len(key), fn, user, err)  # takes the Redis lock
    if ctx == ffi.NULL:
        _check(RX_ERROR, err)
    r = object.__new__(PyTorchScriptRunner)
    _set(r, "_ctx", ffi.gc(ctx, lib.rx_script_runner_free))
    _set(r, "_lock", threading.Lock())
    return r


def scriptRunnerAddInput(*args: Any) -> None:
    """add input to torch script runner"""
    _bind()
    _argc(args, 2, "scriptRunnerAddInput")
    r = args[0]
    _script_runner(r)
    t = _tensor_ptr(args[1], "Given argument is not of type PyTensor")
    err = ffi.new("rx_err *")
    with r._lock:
        rc = lib.rx_script_runner_add_input(_script_runner(r), t, err)
    _check(rc, err)


def scriptRunnerAddInputList(*args: Any) -> None:
    """add a list of tensor as input to torch script runner"""
    _bind()
    _argc(args, 2, "scriptRunnerAddInput")  # sic: the original's text
    r = args[0]
    _script_runner(r)
    try:
        it = iter(args[1])
    except TypeError:
        raise _error("Tensors argument must be iterable") from None
    # Every element is checked before any is added: all or nothing.
    ptrs = [_tensor_ptr(t, "Given argument is not of type PyTensor") for t in it]
    err = ffi.new("rx_err *")
    with r._lock:
        rc = lib.rx_script_runner_add_input_list(_script_runner(r), ptrs, len(ptrs), err)
    _check(rc, err)


def scriptRunnerAddOutput(*args: Any) -> int:
    """add output to torch script runner"""
    _bind()
    _argc(args, 1, "scriptRunnerAddOutput")
    r = args[0]
    _script_runner(r)
    err = ffi.new("rx_err *")
    with r._lock:
        rc = lib.rx_script_runner_add_output(_script_runner(r), err)
    _check(rc, err)
    return 1


def scriptRunnerRun(*args: Any) -> List[PyTensor]:
    """run torch script runner"""
    _bind()
    _argc(args, 1, "scriptRunnerRun")
    _script_runner(args[0])
    return _run_sync(args[0], lib.rx_script_runner_run, _script_runner)


def scriptRunnerRunAsync(*args: Any) -> Any:
    """run torch script runner async"""
    _bind()
    _argc(args, 1, "scriptRunnerRunAsync")
    _script_runner(args[0])
    if not lib.rx_has_entry(b"ScriptRunAsync"):
        raise _error("Asynchronous run is not supported in RedisAI version")
    return _run_async(args[0], lib.rx_script_runner_run_async, _script_runner)
