"""AI.TENSORSET / AI.TENSORGET: every dtype through BLOB and VALUES, reply
shapes (spec §4.3, §4.4), RESP2 vs RESP3."""
import numpy as np
import pytest

from tensor_helpers import ALL_DTYPES, INT_RANGE, NP, NUMERIC, RawClient
from support.server import ON_VALKEY

SHAPES = [(), (3,), (2, 3), (64, 33)]  # (64, 33) makes blobs >= 4 KB for most dtypes


def sample(dtype, shape, seed=7):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape)) if shape else 1
    if dtype in ("FLOAT", "DOUBLE"):
        a = rng.standard_normal(n) * 1000
    elif dtype == "BOOL":
        a = rng.integers(0, 2, n)
    else:
        lo, hi = INT_RANGE[dtype]
        a = rng.integers(lo, hi, n, endpoint=True, dtype=np.int64)
        a[0], a[-1] = lo, hi  # the extremes survive
    return a.astype(NP[dtype]).reshape(shape)


def expected_values(arr):
    """Element values as a RESP2 client sees them."""
    flat = arr.reshape(-1)
    if arr.dtype.kind == "f":
        return [repr(float(x)).encode() if float(x) != int(x) else str(int(x)).encode()
                for x in flat]
    return [int(x) for x in flat]


def as_value_args(arr):
    flat = arr.reshape(-1)
    if arr.dtype.kind == "f":
        return [repr(float(x)) for x in flat]
    return [str(int(x)) for x in flat]


@pytest.fixture
def raw(engine):
    c = RawClient(engine.sock)
    yield c
    c.close()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", NUMERIC)
def test_numeric_blob_round_trip(r, dtype, shape):
    a = sample(dtype, shape)
    assert r.execute_command("AI.TENSORSET", "t", dtype, *shape, "BLOB", a.tobytes()) == b"OK"
    assert r.execute_command("AI.TENSORGET", "t", "BLOB") == a.tobytes()
    assert r.execute_command("AI.TENSORGET", "t", "META") == [
        b"dtype", dtype.encode(), b"shape", list(shape)]
    got = r.execute_command("AI.TENSORGET", "t", "META", "VALUES")
    assert got[:5] == [b"dtype", dtype.encode(), b"shape", list(shape), b"values"]
    if dtype in ("FLOAT", "DOUBLE"):
        back = np.array([float(v) for v in got[5]], dtype=NP[dtype])
        assert back.tobytes() == a.tobytes()
    else:
        assert got[5] == expected_values(a)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", NUMERIC)
def test_numeric_values_round_trip(r, dtype, shape):
    a = sample(dtype, shape, seed=11)
    assert r.execute_command("AI.TENSORSET", "t", dtype, *shape, "VALUES", *as_value_args(a)) == b"OK"
    assert r.execute_command("AI.TENSORGET", "t", "BLOB") == a.tobytes()
    assert r.execute_command("AI.TENSORGET", "t", "META", "BLOB") == [
        b"dtype", dtype.encode(), b"shape", list(shape), b"blob", a.tobytes()]


def test_default_reply_is_meta_and_blob_on_the_wire(raw):
    raw.ok("AI.TENSORSET", "t", "FLOAT", 2, 3, "VALUES", 1, 2, 3, 4, 5, 6)
    raw.send("AI.TENSORGET", "t")
    blob = np.arange(1, 7, dtype=np.float32).tobytes()
    want = (b"*6\r\n$5\r\ndtype\r\n$5\r\nFLOAT\r\n$5\r\nshape\r\n*2\r\n:2\r\n:3\r\n"
            b"$4\r\nblob\r\n$24\r\n" + blob + b"\r\n")
    while len(raw.buf) < len(want):
        raw._fill()
    assert raw.buf == want
    raw.buf = b""


def test_meta_fields_are_bulk_strings_and_values_types_on_the_wire(raw):
    raw.ok("AI.TENSORSET", "i", "INT32", 2, "VALUES", -5, 7)
    raw.send("AI.TENSORGET", "i", "META", "VALUES")
    want = (b"*6\r\n$5\r\ndtype\r\n$5\r\nINT32\r\n$5\r\nshape\r\n*1\r\n:2\r\n"
            b"$6\r\nvalues\r\n*2\r\n:-5\r\n:7\r\n")
    while len(raw.buf) < len(want):
        raw._fill()
    assert raw.buf == want
    raw.buf = b""
    raw.ok("AI.TENSORSET", "f", "FLOAT", 1, "VALUES", 2.1)
    raw.send("AI.TENSORGET", "f", "VALUES")
    want = b"*1\r\n$18\r\n2.0999999046325684\r\n"
    while len(raw.buf) < len(want):
        raw._fill()
    assert raw.buf == want
    raw.buf = b""


def test_scalar_has_empty_shape(r):
    assert r.execute_command("AI.TENSORSET", "k", "FLOAT", "VALUES", 7) == b"OK"
    assert r.execute_command("AI.TENSORGET", "k", "META", "VALUES") == [
        b"dtype", b"FLOAT", b"shape", [], b"values", [b"7"]]
    assert r.execute_command("AI.TENSORSET", "b", "BOOL", "BLOB", b"\x01") == b"OK"
    assert r.execute_command("AI.TENSORGET", "b", "VALUES") == [1]
    assert r.execute_command("AI.TENSORSET", "s", "STRING", "VALUES", "hi") == b"OK"
    assert r.execute_command("AI.TENSORGET", "s") == [
        b"dtype", b"STRING", b"shape", [], b"blob", b"hi\x00"]


@pytest.mark.parametrize("big", [False, True], ids=["small", "4k+"])
def test_string_blob_round_trip(r, big):
    elems = [b"a", b"", b"bc", b"\xff\xfe utf-8 \xc3\xa9"]
    if big:
        elems = [b"x" * 700, b"", b"y" * 3000, b"z" * 900]
    blob = b"".join(e + b"\0" for e in elems)
    assert r.execute_command("AI.TENSORSET", "s", "STRING", 2, 2, "BLOB", blob) == b"OK"
    assert r.execute_command("AI.TENSORGET", "s", "BLOB") == blob
    assert r.execute_command("AI.TENSORGET", "s", "META", "VALUES") == [
        b"dtype", b"STRING", b"shape", [2, 2], b"values", elems]


def test_string_values_round_trip(r):
    vals = [b"hello", b"", b"w\xc3\xb6rld", b"x" * 5000]
    assert r.execute_command("AI.TENSORSET", "s", "STRING", 4, "VALUES", *vals) == b"OK"
    assert r.execute_command("AI.TENSORGET", "s", "VALUES") == vals
    assert r.execute_command("AI.TENSORGET", "s", "BLOB") == b"".join(v + b"\0" for v in vals)


def test_string_values_may_end_with_one_nul(r):
    """Clients that send C strings send their terminator: it ends the value."""
    assert r.execute_command("AI.TENSORSET", "s", "STRING", 2, "VALUES", "str_val1", b"str_val2\0") == b"OK"
    assert r.execute_command("AI.TENSORGET", "s", "VALUES") == [b"str_val1", b"str_val2"]
    assert r.execute_command("AI.TENSORGET", "s", "BLOB") == b"str_val1\0str_val2\0"
    assert r.execute_command("AI.TENSORSET", "e", "STRING", "VALUES", b"\0") == b"OK"
    assert r.execute_command("AI.TENSORGET", "e", "BLOB") == b"\0"


def test_bool_values_and_blob(r):
    assert r.execute_command("AI.TENSORSET", "b", "BOOL", 2, 2, "VALUES", 1, 0, 0, 1) == b"OK"
    assert r.execute_command("AI.TENSORGET", "b", "BLOB") == b"\x01\x00\x00\x01"
    assert r.execute_command("AI.TENSORGET", "b", "VALUES") == [1, 0, 0, 1]
    assert r.execute_command("AI.TENSORSET", "b", "BOOL", 3, "BLOB", b"\x00\x01\x01") == b"OK"
    assert r.execute_command("AI.TENSORGET", "b", "META", "VALUES") == [
        b"dtype", b"BOOL", b"shape", [3], b"values", [0, 1, 1]]


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_zero_filled_without_data(r, dtype):
    assert r.execute_command("AI.TENSORSET", "z", dtype, 2, 3) == b"OK"
    meta = r.execute_command("AI.TENSORGET", "z", "META", "VALUES")
    assert meta[:4] == [b"dtype", dtype.encode(), b"shape", [2, 3]]
    if dtype == "STRING":
        assert meta[5] == [b""] * 6
        assert r.execute_command("AI.TENSORGET", "z", "BLOB") == b"\0" * 6
    else:
        assert meta[5] == ([b"0"] * 6 if dtype in ("FLOAT", "DOUBLE") else [0] * 6)
        assert r.execute_command("AI.TENSORGET", "z", "BLOB") == b"\0" * (6 * np.dtype(NP[dtype]).itemsize)


@pytest.mark.parametrize("spelling", ["float", "Float", "fLoAt"])
def test_dtype_names_are_case_insensitive(r, spelling):
    assert r.execute_command("AI.TENSORSET", "t", spelling, 2, "VALUES", 1, 2) == b"OK"
    assert r.execute_command("AI.TENSORGET", "t", "META") == [b"dtype", b"FLOAT", b"shape", [2]]
    assert r.execute_command("AI.TENSORSET", "u", "uint16", 1, "blob", b"\x01\x02") == b"OK"
    assert r.execute_command("AI.TENSORGET", "u", "meta", "values") == [
        b"dtype", b"UINT16", b"shape", [1], b"values", [0x0201]]
    assert r.execute_command("AI.TENSORSET", "s", "string", 1, "Values", "q") == b"OK"
    assert r.execute_command("AI.TENSORGET", "s", "Blob") == b"q\0"


def test_overwrite_replaces_value_and_dtype(r):
    r.execute_command("AI.TENSORSET", "t", "INT8", 2, "VALUES", 1, 2)
    r.execute_command("AI.TENSORSET", "t", "DOUBLE", 1, 1, "VALUES", 0.5)
    assert r.execute_command("AI.TENSORGET", "t", "META", "VALUES") == [
        b"dtype", b"DOUBLE", b"shape", [1, 1], b"values", [b"0.5"]]


def test_float_values_resp2_are_bulk_strings_resp3_doubles(engine):
    r2, r3 = engine.client(protocol=2), engine.client(protocol=3)
    r2.execute_command("AI.TENSORSET", "f", "FLOAT", 3, "VALUES", 2.1, -1, 1e10)
    r2.execute_command("AI.TENSORSET", "d", "DOUBLE", 2, "VALUES", 2.1, 0.25)
    r2.execute_command("AI.TENSORSET", "i", "INT64", 2, "VALUES", -3, 9)
    assert r2.execute_command("AI.TENSORGET", "f", "VALUES") == [
        b"2.0999999046325684", b"-1", b"10000000000"]
    # Redis formats doubles with %.17g in RESP2; Valkey 8.1 with the shortest text that reads back
    expected = [b"2.1", b"0.25"] if ON_VALKEY else [b"2.1000000000000001", b"0.25"]
    assert r2.execute_command("AI.TENSORGET", "d", "VALUES") == expected
    f3 = r3.execute_command("AI.TENSORGET", "f", "VALUES")
    assert f3 == [2.0999999046325684, -1.0, 1e10] and all(type(x) is float for x in f3)
    d3 = r3.execute_command("AI.TENSORGET", "d", "META", "VALUES")
    assert d3 == [b"dtype", b"DOUBLE", b"shape", [2], b"values", [2.1, 0.25]]
    assert all(type(x) is float for x in d3[5])
    assert r3.execute_command("AI.TENSORGET", "i", "VALUES") == [-3, 9]
    assert r3.execute_command("AI.TENSORGET", "f", "BLOB") == np.array(
        [2.1, -1, 1e10], dtype=np.float32).tobytes()
