"""Thin typed layer over the C core (redisai_ext._redisai_ext).

Every error raised here is ``redisgears.GearsError`` -- the class the host
publishes; this package defines no exception class of its own.  C entry
points report failures in an ``rx_err`` record that ``_check`` turns into that
exception; argument checks made in Python go through ``_error``.  The checks
of each function run in the order of the spec (redisAI-python-api.md §5.1).

Dtype: the engine's shared API has no dtype entry.  A PyTensor created by this
API keeps the dtype string it was created with; a tensor read from a key gets
its dtype derived at read time (element size + float/int probing in C, see
src/redisai_ext/keyspace.c: rx_probe_dtype).
"""
from __future__ import annotations

import itertools
from typing import Any, Dict, Iterable, List, Tuple

from ._redisai_ext import ffi, lib

NOT_LOADED = "RedisAI is not loaded, it is not possible to use AI interface."
RX_OK, RX_ERROR, RX_NOTBOUND = 0, 1, 2

DTYPES = ("FLOAT", "DOUBLE", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "BOOL", "STRING")
_FLOAT, _DOUBLE, _BOOL, _STRING = 0, 1, 8, 9
_CTYPES = ("float", "double", "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t",
           "uint8_t")
_TYPESTR = ("<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "|b1")
_MEMFMT = ("f", "d", "b", "h", "i", "q", "B", "H", "?")
_INT_RANGE = {2: (-2**7, 2**7 - 1), 3: (-2**15, 2**15 - 1), 4: (-2**31, 2**31 - 1),
              5: (-2**63, 2**63 - 1), 6: (0, 2**8 - 1), 7: (0, 2**16 - 1), 8: (0, 1)}
_MAX_ELEMENTS = 2**59  # keeps prod(dims) * 8 far from size_t overflow, whatever the engine checks
_UNSUPPORTED_STRING = "STRING tensors are not supported by the redisAI Python API"

# ---- errors and binding --------------------------------------------------

_gears_error = None


def _error(msg: str) -> Exception:
    """The exception for `msg`: redisgears.GearsError (the host's class)."""
    global _gears_error
    if _gears_error is None:
        try:
            import redisgears  # published by the host module, only inside redis-server
            _gears_error = redisgears.GearsError
        except (ImportError, AttributeError):
            return RuntimeError(msg + " (redisAI only works inside redis-server, with the host module)")
    return _gears_error(msg)


def _check(rc: int, err) -> None:
    """Turns a C return code + rx_err record into GearsError."""
    if rc != RX_OK:
        raise _error(ffi.string(err.msg).decode("utf-8", "replace") if err.code != RX_NOTBOUND
                     else NOT_LOADED)


_bound = False
host = None  # the host's redisgears module, once bound


def _bind() -> None:
    """Binds to the host and the engine on first use; retried while it fails."""
    global _bound, host
    if _bound:
        return
    try:
        import redisgears
        address = redisgears._host_api_address()
    except (ImportError, AttributeError):
        raise _error(NOT_LOADED) from None
    err = ffi.new("rx_err *")
    _check(lib.rx_bind(address, err), err)
    host = redisgears
    _bound = True


def _argc(args: tuple, n: int, name: str) -> None:
    if len(args) != n:
        raise _error("Wrong number of arguments given to " + name)


# ---- PyTensor ------------------------------------------------------------

class _Sealed:
    """The API's objects expose no attributes to set (spec §4): their slots
    hold engine pointers, and a pointer copied into a second object would be
    freed twice (a crash).  The API itself sets them with _set."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("'%s' object attribute '%s' is read-only" % (type(self).__name__, name))

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)  # raises the same error


_set = object.__setattr__


class PyTensor(_Sealed):
    """A reference to an engine tensor (shared, never copied, read-only).

    Only this API makes valid instances; ``PyTensor()`` from Python makes an
    invalid one (`PyTensor is invalid` when used).  Supports numpy without a
    copy through ``__array_interface__`` (read-only)."""

    __slots__ = ("_ptr", "_dtype")

    def __init__(self) -> None:
        _set(self, "_ptr", None)
        _set(self, "_dtype", -1)

    def __str__(self) -> str:
        return repr(tensorToFlatList(self))

    def __reduce__(self):
        raise TypeError("cannot pickle 'redisgears.PyTensor' object")

    @property
    def __array_interface__(self) -> Dict[str, Any]:
        p, dt = _tensor(self)
        return {"version": 3, "shape": _dims_of(p), "typestr": _TYPESTR[dt],
                # (address, read_only=True): numpy keeps `self` as the array's base.
                "data": (int(ffi.cast("uintptr_t", lib.rx_tensor_data(p))), True)}


PyTensor.__module__ = "redisgears"


def _wrap(ptr, dtype: int) -> PyTensor:
    t = PyTensor.__new__(PyTensor)
    # The wrapper owns one engine reference; dropped (RedisAI_TensorFree) on dealloc.
    _set(t, "_ptr", ffi.gc(ptr, lib.rx_tensor_free))
    _set(t, "_dtype", dtype)
    return t


def _tensor(t: Any) -> Tuple[Any, int]:
    if not isinstance(t, PyTensor):
        raise _error("Given argument is not of type PyTensor")
    if getattr(t, "_ptr", None) is None:
        raise _error("PyTensor is invalid")
    if not 0 <= t._dtype < _STRING:
        raise _error(_UNSUPPORTED_STRING if t._dtype == _STRING else
                     "can not determine the data type of the tensor")
    return t._ptr, t._dtype


def _dims_of(p) -> Tuple[int, ...]:
    return tuple(lib.rx_tensor_dim(p, i) for i in range(lib.rx_tensor_ndims(p)))


def _key(key: Any, msg: str = "key name argument must be a string") -> bytes:
    if not isinstance(key, str):
        raise _error(msg)
    return key.encode("utf-8", "surrogateescape")


# ---- argument conversion -------------------------------------------------

def _parse_dims(dims: Any) -> List[int]:
    try:
        it = iter(dims)
    except TypeError:
        raise _error("dims argument must be iterable") from None
    out, n = [], 1
    for d in it:
        if not isinstance(d, int) or not -2**63 <= d < 2**63:
            raise _error("dims arguments must be long")
        if d <= 0:
            raise _error("dims arguments must be positive")
        out.append(int(d))
        n *= int(d)
    if n > _MAX_ELEMENTS:
        raise _error("Failed creating tensor, the tensor is too large")
    return out


def _create(dtype: str, dims: List[int]) -> Tuple[PyTensor, int]:
    err = ffi.new("rx_err *")
    p = lib.rx_tensor_create(dtype.encode("utf-8", "surrogateescape"), dims, len(dims), err)
    if p == ffi.NULL:
        _check(RX_ERROR, err)
    dt = lib.rx_dtype_parse(dtype.encode("utf-8", "surrogateescape"))
    return _wrap(p, dt), dt


# ---- module functions (§3) -----------------------------------------------

def createTensorFromValues(*args: Any) -> PyTensor:
    """creating a tensor object from values"""
    _bind()
    _argc(args, 3, "createTensorFromValues")
    dtype, dims, values = args
    if not isinstance(dtype, str):
        raise _error("type argument must be a string")
    t, dt = _create(dtype, _parse_dims(dims))
    try:
        it = iter(values)
    except TypeError:
        raise _error("values argument must be iterable") from None
    n = lib.rx_tensor_length(t._ptr)
    vals = list(itertools.islice(it, n + 1))  # one more tells "too many"; an endless iterator ends here
    if dt in (_FLOAT, _DOUBLE):
        for v in vals:
            if not isinstance(v, float):
                raise _error("values arguments must be double")
    else:  # integer and BOOL tensors: ints (and integral floats) stored exactly
        lo, hi = _INT_RANGE[dt]
        for i, v in enumerate(vals):
            if isinstance(v, float) and v.is_integer():
                v = vals[i] = int(v)
            if not isinstance(v, int) or isinstance(v, float):
                raise _error("values arguments must be integers for a tensor of type " + DTYPES[dt])
            if not lo <= v <= hi:
                raise _error("value %d is out of range for a tensor of type %s" % (v, DTYPES[dt]))
    if len(vals) != n:
        raise _error("number of values does not match tensor shape")
    err = ffi.new("rx_err *")
    # Copy: Python numbers are not contiguous C values; they are gathered into
    # one C array, which the engine's setters then store element by element.
    if dt in (_FLOAT, _DOUBLE):
        rc = lib.rx_tensor_set_doubles(t._ptr, ffi.new("double[]", vals), len(vals), err)
    else:
        rc = lib.rx_tensor_set_longs(t._ptr, ffi.new("long long[]", [int(v) for v in vals]), len(vals), err)
    _check(rc, err)
    return t


def createTensorFromBlob(*args: Any) -> PyTensor:
    """creating a tensor object from blob"""
    _bind()
    _argc(args, 3, "createTensorFromBlob")
    dtype, dims, blob = args
    if not isinstance(dtype, str):
        raise _error("type argument must be a string")
    try:
        view = memoryview(blob)
    except TypeError:
        raise _error("blob argument must be bytes, byte array or a buffer") from None
    t, dt = _create(dtype, _parse_dims(dims))
    try:
        if not view.c_contiguous:
            # Copy (only for non-contiguous buffers): the tensor is row-major,
            # so the elements are gathered in C order first.
            blob = view.tobytes(order="C")
        data = ffi.from_buffer(blob)  # no copy: a pointer into the caller's buffer
    except (TypeError, ValueError, BufferError):
        raise _error("Error getting buffer info.") from None
    if len(data) != lib.rx_tensor_bytesize(t._ptr):
        raise _error("ERR data length does not match tensor shape and type")
    err = ffi.new("rx_err *")
    _check(lib.rx_tensor_set_blob(t._ptr, dt, data, len(data), err), err)  # the one copy: see C
    return t


def _set_keys(pairs: List[Tuple[bytes, Any]]) -> None:
    err = ffi.new("rx_err *")
    rc = lib.rx_keys_set(len(pairs), b"".join([k for k, _ in pairs]), [len(k) for k, _ in pairs],
                         [p for _, (p, _d) in pairs], [d for _, (_p, d) in pairs],
                         host._current_user_address(), err)
    _check(rc, err)


def setTensorInKey(*args: Any) -> None:
    """set a tensor in keyspace"""
    _bind()
    _argc(args, 2, "setTensorInKey")
    key = _key(args[0])
    p, dt = _tensor(args[1])
    err = ffi.new("rx_err *")
    _check(lib.rx_key_set(key, len(key), p, dt, host._current_user_address(), err), err)


def msetTensorsInKeyspace(*args: Any) -> None:
    """set multiple tensors in keyspace"""
    _bind()
    _argc(args, 1, "msetTensorInKeyspace")  # sic: no "s", as the original
    if not isinstance(args[0], dict):
        raise _error("Given argument is not of type PyDict")
    pairs = [(_key(k), _tensor(v)) for k, v in args[0].items()]
    if pairs:
        _set_keys(pairs)


def _get_keys(keys: List[bytes]) -> List[PyTensor]:
    n = len(keys)
    out = ffi.new("RAI_Tensor *[]", max(n, 1))
    dtypes = ffi.new("int[]", max(n, 1))
    err = ffi.new("rx_err *")
    _check(lib.rx_keys_get(n, b"".join(keys), [len(k) for k in keys], out, dtypes,
                           host._current_user_address(), err), err)
    tensors = [_wrap(out[i], dtypes[i]) for i in range(n)]  # each owns its reference
    if _STRING in dtypes:
        raise _error(_UNSUPPORTED_STRING)
    return tensors


def getTensorFromKey(*args: Any) -> PyTensor:
    """get a tensor from keyspace"""
    _bind()
    _argc(args, 1, "getTensorFromKey")
    key = _key(args[0])
    got = ffi.new("rx_got *")
    _check(lib.rx_key_get(key, len(key), host._current_user_address(), got), got.err)
    t = _wrap(got.tensor, got.dtype)  # owns its reference, also when refused below
    if got.dtype == _STRING:
        raise _error(_UNSUPPORTED_STRING)
    return t


def mgetTensorsFromKeyspace(*args: Any) -> List[PyTensor]:
    """get multiple tensors from keyspace"""
    _bind()
    _argc(args, 1, "getTensorsFromKeyspace")  # sic, as the original
    try:
        it = iter(args[0])
    except TypeError:
        raise _error("keys argument must be iterable") from None
    keys = [_key(k) for k in it]
    return _get_keys(keys) if keys else []


def tensorToFlatList(*args: Any) -> List[Any]:
    """turning tensor into flat list"""
    _bind()
    _argc(args, 1, "tensorToFlatList")
    p, dt = _tensor(args[0])
    # Copy: a list of Python numbers (floats are widened to double).
    return ffi.unpack(ffi.cast(_CTYPES[dt] + " *", lib.rx_tensor_data(p)), lib.rx_tensor_length(p))


def tensorGetDataAsBlob(*args: Any) -> bytearray:
    """getting the tensor data as a string blob"""
    _bind()
    _argc(args, 1, "tensorGetDataAsBlob")
    p, _ = _tensor(args[0])
    # Copy: the result is a mutable bytearray, the tensor is shared and read-only.
    return bytearray(ffi.buffer(lib.rx_tensor_data(p), lib.rx_tensor_bytesize(p)))


def tensorGetDims(*args: Any) -> Tuple[int, ...]:
    """return tuple of the tensor dims"""
    _bind()
    _argc(args, 1, "tensorGetDims")
    return _dims_of(_tensor(args[0])[0])


# ---- beyond the original -------------------------------------------------

def tensorGetDataType(*args: Any) -> str:
    """return the tensor's data type name, e.g. 'FLOAT'"""
    _bind()
    _argc(args, 1, "tensorGetDataType")
    return DTYPES[_tensor(args[0])[1]]


def tensorGetDataAsMemoryview(*args: Any) -> memoryview:
    """read-only memoryview over the tensor's data (no copy), typed and shaped"""
    _bind()
    _argc(args, 1, "tensorGetDataAsMemoryview")
    t = args[0]
    p, dt = _tensor(t)
    # The pointer's destructor closes over `t`, so the view keeps the tensor alive.
    data = ffi.gc(lib.rx_tensor_data(p), lambda _c, _keep=t: None)
    view = memoryview(ffi.buffer(data, lib.rx_tensor_bytesize(p))).toreadonly()
    dims = _dims_of(p)
    return view.cast(_MEMFMT[dt], dims) if dims else view.cast(_MEMFMT[dt])
