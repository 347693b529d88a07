"""The DAG runner (spec §3 #21, §4.4, §5.3, §8.1 examples 3-7).

A PyDAGRunner wraps one engine DAG run context.  Builder methods return the
runner itself so calls chain; ``Run()`` consumes the DAG whatever happens
(it is freed at once when the run cannot be queued, else by the completion
callback), and every later call raises ``PyDAGRunner is invalid``.  Model and
script ops are made first (the key lookup takes the Redis lock), then their
names are checked; an op that does not make it into the DAG is freed.
"""
from __future__ import annotations

import threading
from typing import Any, List

from . import _api
from ._api import RX_ERROR, RX_OK, _Sealed, _bind, _check, _error, _set
from ._redisai_ext import ffi, lib
from ._runners import _name, _submit, _take, _tensor_ptr

_UNSUPPORTED = "DAG run is not supported in RedisAI version"
_NOT_GIVEN = object()


def _supported() -> None:
    _bind()
    if not lib.rx_has_entry(b"DAGRunCtxCreate"):
        raise _error(_UNSUPPORTED)


def _dag(r: Any) -> Any:
    _supported()
    if not isinstance(r, PyDAGRunner):
        raise _error("Given argument is not of type DAGRunner")
    if getattr(r, "_dag", None) is None:
        raise _error("PyDAGRunner is invalid")
    return r._dag


def _names(value: Any, missing: str, not_iterable: str, not_str: str) -> List[Any]:
    """C strings for each name of `value` (kept alive by the returned list)."""
    if value is _NOT_GIVEN:
        if missing:
            raise _error(missing)
        return []
    try:
        it = iter(value)
    except TypeError:
        raise _error(not_iterable) from None
    return [ffi.new("char[]", _name(n, not_str)) for n in it]


def _load(r: Any, args: tuple, add) -> "PyDAGRunner":
    _dag(r)
    if len(args) != 2:
        raise _error("Wrong number of args to DAG load input")
    name = _name(args[0], "Tensor name argument must be a string")
    t = _tensor_ptr(args[1], "Given argument is not of type PyTensorType")
    err = ffi.new("rx_err *")
    with r._lock:  # one thread at a time per runner: see _runners._take
        rc = add(_dag(r), name, t, err)  # the DAG takes its own tensor reference
    _check(rc, err)
    return r


def _add_op(r: Any, op: Any, inputs: list, outputs: list) -> "PyDAGRunner":
    err = ffi.new("rx_err *")
    with r._lock:
        d = _dag(r)  # raises if another thread ran the DAG meanwhile: the op is freed by its gc
        ffi.gc(op, None)  # rx_dag_add_op consumes the op whatever the outcome
        rc = lib.rx_dag_add_op(d, op, inputs, len(inputs), outputs, len(outputs), err)
    _check(rc, err)
    return r


def _op(key: bytes, fn: Any) -> Any:
    err = ffi.new("rx_err *")
    user = _api.host._current_user_address()  # whose ACL the key must pass
    op = lib.rx_dag_run_op(key, len(key), fn, user, err)  # takes the Redis lock
    if op == ffi.NULL:
        _check(RX_ERROR, err)
    return ffi.gc(op, lib.rx_dag_op_free)  # freed if it never reaches the DAG


class PyDAGRunner(_Sealed):
    """A DAG under construction (single-shot).  ``PyDAGRunner()`` from Python
    makes an invalid runner; createDAGRunner makes a valid one."""

    __slots__ = ("_dag", "_lock")

    def __init__(self) -> None:
        _set(self, "_dag", None)

    def __str__(self) -> str:
        return "PyDAGRunner to str"

    def __reduce__(self):
        raise TypeError("cannot pickle 'redisgears.PyDAGRunner' object")

    def Input(self, *args: Any) -> "PyDAGRunner":
        """load an input tensor to the DAG under a specific name"""
        return _load(self, args, lib.rx_dag_load)

    def TensorSet(self, *args: Any) -> "PyDAGRunner":
        """load a tensor into the DAG context having a specific name"""
        return _load(self, args, lib.rx_dag_tensor_set)

    def TensorGet(self, *args: Any) -> "PyDAGRunner":
        """output a tensor within the DAG context having a specific name"""
        _dag(self)
        if len(args) != 1:
            raise _error("Wrong number of args to TensorSet op")  # sic, as the original
        name = _name(args[0], "Tensor name argument must be a string")
        err = ffi.new("rx_err *")
        with self._lock:
            rc = lib.rx_dag_tensor_get(_dag(self), name, err)
        _check(rc, err)
        return self

    def ModelRun(self, *args: Any, **kwargs: Any) -> "PyDAGRunner":
        """add a model run operation to the DAG"""
        _dag(self)  # positional arguments are ignored: keywords only
        key = kwargs.get("name", _NOT_GIVEN)
        if key is _NOT_GIVEN:
            raise _error("Model key name was not given")
        op = _op(_name(key, "Model name argument must be a string"), ffi.NULL)
        inputs = _names(kwargs.get("inputs", _NOT_GIVEN), "Must specify model inputs",
                        "Model inputs must be iterable", "Input name must be a string")
        outputs = _names(kwargs.get("outputs", _NOT_GIVEN), "Must specify model outputs",
                         "Model outputs must be iterable", "Output name must be a string")
        return _add_op(self, op, inputs, outputs)

    def ScriptRun(self, *args: Any, **kwargs: Any) -> "PyDAGRunner":
        """add a script run operation to the DAG"""
        _dag(self)
        key = kwargs.get("name", _NOT_GIVEN)
        if key is _NOT_GIVEN:
            raise _error("Script key name was not given")
        key = _name(key, "Script name argument must be a string")
        fn = kwargs.get("func", _NOT_GIVEN)
        if fn is _NOT_GIVEN:
            raise _error("Function name was not given")
        op = _op(key, _name(fn, "Function name argument must be a string"))
        inputs = _names(kwargs.get("inputs", _NOT_GIVEN), None, "Script inputs must be iterable",
                        "Input name must be a string")
        outputs = _names(kwargs.get("outputs", _NOT_GIVEN), None, "Script outputs must be iterable",
                         "Output name must be a string")
        return _add_op(self, op, inputs, outputs)

    def OpsFromString(self, *args: Any) -> "PyDAGRunner":
        """add operations to the DAG by using the redis DAGRUN command syntax"""
        _dag(self)
        if len(args) != 1:
            raise _error("Wrong number of args")
        ops = _name(args[0], "ops argument must be a string")
        err = ffi.new("rx_err *")
        user = _api.host._current_user_address()  # whose ACL the model and script keys must pass
        # The parse needs the Redis lock; taken before the runner's lock, as a
        # thread that holds it (Redis's main thread) may be waiting for ours.
        if lib.rx_lock_redis() != RX_OK:
            raise _error("could not take the Redis lock")
        try:
            with self._lock:
                rc = lib.rx_dag_ops_from_string(_dag(self), ops, user, err)
        finally:
            lib.rx_unlock_redis()
        _check(rc, err)
        return self

    def Run(self, *args: Any) -> Any:
        """start the asynchronous execution of the DAG"""
        _dag(self)  # arguments are ignored
        d = _take(self, _dag, "_dag")  # consumed whatever the outcome
        return _submit(_queue_run, d)


PyDAGRunner.__module__ = "redisgears"


def _queue_run(dag: Any, handle: Any, on_main: bool, err: Any) -> int:
    ffi.gc(dag, None)  # rx_dag_run frees the DAG (now, or after the callback)
    return lib.rx_dag_run(dag, handle, on_main, err)


def createDAGRunner(*args: Any) -> PyDAGRunner:
    """create an empty DAG runner"""
    _supported()  # any arguments are ignored
    err = ffi.new("rx_err *")
    d = lib.rx_dag_create(err)
    if d == ffi.NULL:
        _check(RX_ERROR, err)
    r = PyDAGRunner()
    _set(r, "_dag", ffi.gc(d, lib.rx_dag_free))
    _set(r, "_lock", threading.Lock())
    return r
