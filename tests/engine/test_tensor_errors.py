"""Every error path of AI.TENSORSET / AI.TENSORGET, with the exact texts of
spec §4.3 / §4.4, and that a failed TENSORSET keeps the previous value."""
import pytest

from tensor_helpers import INT_RANGE, WRONGTYPE, RawClient, RespError

SHAPE = b"ERR invalid or negative value found in tensor shape"
BLOB_ARG = b"ERR a single binary string should come after the BLOB argument in 'AI.TENSORSET' command"
BLOB_LEN = b"ERR data length does not match tensor shape and type"
BOOL_ERR = b"ERR BOOL tensor elements must be 0 or 1"
STR_COUNT = b"ERR Number of string elements in data blob does not match tensor length"
NVALUES = b"ERR wrong number of values was given in 'AI.TENSORSET' command"
INVALID = b"ERR invalid value"
NUL = b"ERR C-string value contains null character"
EMPTY = b"ERR tensor key is empty or in a different shard"


@pytest.fixture
def raw(engine):
    c = RawClient(engine.sock)
    # A known value that every failed TENSORSET below must leave untouched.
    c.ok("AI.TENSORSET", "k", "INT16", 2, "VALUES", 3, -4)
    yield c
    assert c.ok("AI.TENSORGET", "k", "META", "VALUES") == [
        b"dtype", b"INT16", b"shape", [2], b"values", [3, -4]]
    c.close()


@pytest.mark.parametrize("args", [[], ["k"], ["k", "FLOAT"]], ids=len)
def test_tensorset_arity(raw, args):
    assert raw.error("AI.TENSORSET", *args) == b"ERR wrong number of arguments for 'ai.tensorset' command"


@pytest.mark.parametrize("args", [[], ["k", "META", "BLOB", "META"], ["k", "a", "b", "c", "d"]], ids=len)
def test_tensorget_arity(raw, args):
    assert raw.error("AI.TENSORGET", *args) == b"ERR wrong number of arguments for 'ai.tensorget' command"


@pytest.mark.parametrize("dtype", ["FLOAT32", "INT", "UINT32", "UINT64", "FLOAT16", "BFLOAT16", "", "STR", "FLOATX"])
def test_unknown_dtype(raw, dtype):
    assert raw.error("AI.TENSORSET", "k", dtype, 2, "VALUES", 1, 2) == b"ERR invalid data type"


@pytest.mark.parametrize("dim", ["0", "-1", "abc", "1.5", "", "2x", "99999999999999999999"])
def test_bad_dims(raw, dim):
    assert raw.error("AI.TENSORSET", "k", "FLOAT", 2, dim, "VALUES", 1, 2) == SHAPE
    assert raw.error("AI.TENSORSET", "k", "FLOAT", dim) == SHAPE


def test_shape_too_large_is_refused_not_allocated(raw):
    assert raw.error("AI.TENSORSET", "k", "DOUBLE", 2**40, 2**40) == SHAPE
    assert raw.error("AI.TENSORSET", "k", "INT8", 2**62) == SHAPE


@pytest.mark.parametrize("tail", [["BLOB"], ["BLOB", b"\0" * 4, b"x"], ["BLOB", b"\0" * 4, "VALUES", 1]], ids=len)
def test_blob_needs_exactly_one_argument(raw, tail):
    assert raw.error("AI.TENSORSET", "k", "INT16", 2, *tail) == BLOB_ARG


@pytest.mark.parametrize("dtype,n", [("FLOAT", 7), ("FLOAT", 9), ("DOUBLE", 8), ("INT8", 1),
                                     ("INT64", 15), ("UINT16", 3), ("BOOL", 3), ("INT32", 0)])
def test_blob_length_mismatch(raw, dtype, n):
    assert raw.error("AI.TENSORSET", "k", dtype, 2, "BLOB", b"\0" * n) == BLOB_LEN


def test_blob_length_mismatch_large(raw):
    assert raw.error("AI.TENSORSET", "k", "FLOAT", 1024, "BLOB", b"\0" * 4095) == BLOB_LEN


@pytest.mark.parametrize("blob", [b"\x00\x02", b"\x01\xff", b"\x02\x00"])
def test_bool_blob_not_0_or_1(raw, blob):
    assert raw.error("AI.TENSORSET", "k", "BOOL", 2, "BLOB", blob) == BOOL_ERR


def test_bool_blob_not_0_or_1_large(raw):
    assert raw.error("AI.TENSORSET", "k", "BOOL", 5000, "BLOB", b"\x01" * 4999 + b"\x02") == BOOL_ERR


@pytest.mark.parametrize("blob", [b"a\0b\0", b"a\0b\0c\0d\0", b"a\0bc", b"", b"abc", b"\0" * 4000 + b"x"])
def test_string_blob_count_mismatch(raw, blob):
    assert raw.error("AI.TENSORSET", "k", "STRING", 3, "BLOB", blob) == STR_COUNT


@pytest.mark.parametrize("vals", [[], [1], [1, 2, 3]], ids=len)
@pytest.mark.parametrize("dtype", ["FLOAT", "INT8", "BOOL", "STRING"])
def test_values_count_mismatch(raw, dtype, vals):
    assert raw.error("AI.TENSORSET", "k", dtype, 2, "VALUES", *vals) == NVALUES


@pytest.mark.parametrize("dtype", ["FLOAT", "DOUBLE", "INT32", "UINT8"])
@pytest.mark.parametrize("val", ["abc", "", "1x", "nanx", "1e", "--1"])
def test_values_not_a_number(raw, dtype, val):
    assert raw.error("AI.TENSORSET", "k", dtype, 2, "VALUES", 1, val) == INVALID


@pytest.mark.parametrize("dtype", sorted(INT_RANGE))
def test_values_integer_overflow_per_dtype(raw, dtype):
    lo, hi = INT_RANGE[dtype]
    assert raw.error("AI.TENSORSET", "k", dtype, 1, "VALUES", hi + 1) == INVALID
    assert raw.error("AI.TENSORSET", "k", dtype, 1, "VALUES", lo - 1) == INVALID
    # the bounds themselves are fine
    raw.ok("AI.TENSORSET", "ok", dtype, 2, "VALUES", lo, hi)
    assert raw.ok("AI.TENSORGET", "ok", "VALUES") == [lo, hi]


@pytest.mark.parametrize("dtype", ["INT8", "INT64", "UINT16", "BOOL"])
def test_integer_dtypes_refuse_fractions(raw, dtype):
    assert raw.error("AI.TENSORSET", "k", dtype, 1, "VALUES", "1.5") == INVALID
    assert raw.error("AI.TENSORSET", "k", dtype, 1, "VALUES", "0x1") == INVALID


def test_bool_values_not_0_or_1(raw):
    assert raw.error("AI.TENSORSET", "k", "BOOL", 2, "VALUES", 1, 2) == INVALID
    assert raw.error("AI.TENSORSET", "k", "BOOL", 2, "VALUES", -1, 0) == INVALID


def test_string_value_with_embedded_nul(raw):
    assert raw.error("AI.TENSORSET", "k", "STRING", 2, "VALUES", "ok", b"a\0b") == NUL
    assert raw.error("AI.TENSORSET", "k", "STRING", 1, "VALUES", b"a\0\0") == NUL  # one trailing NUL only
    assert raw.error("AI.TENSORSET", "k", "STRING", 1, "VALUES", b"\0\0") == NUL


def test_wrongtype_both_ways(raw):
    raw.ok("SET", "str", "v")
    raw.ok("LPUSH", "list", "v")
    for key in ("str", "list"):
        assert raw.error("AI.TENSORSET", key, "FLOAT", 1, "VALUES", 1) == WRONGTYPE
        assert raw.error("AI.TENSORSET", key, "FLOAT", 1) == WRONGTYPE
        assert raw.error("AI.TENSORGET", key) == WRONGTYPE
        assert raw.error("AI.TENSORGET", key, "META") == WRONGTYPE
    assert raw.ok("GET", "str") == b"v"
    # and a tensor key refuses string/list commands
    assert raw.error("GET", "k") == WRONGTYPE
    assert raw.error("LPUSH", "k", "x") == WRONGTYPE
    assert raw.error("APPEND", "k", "x") == WRONGTYPE


def test_tensorget_missing_key(raw):
    assert raw.error("AI.TENSORGET", "nope") == EMPTY
    assert raw.error("AI.TENSORGET", "nope", "META", "BLOB") == EMPTY


@pytest.mark.parametrize("opts", [["FOO"], ["META", "X"], ["BLOBS"], ["META", "VALUE"], [""]])
def test_tensorget_unsupported_format(raw, opts):
    assert raw.error("AI.TENSORGET", "k", *opts) == b"ERR unsupported data format"


@pytest.mark.parametrize("opts", [["BLOB", "VALUES"], ["VALUES", "BLOB"], ["blob", "values"]])
def test_tensorget_both_blob_and_values(raw, opts):
    assert raw.error("AI.TENSORGET", "k", *opts) == b"ERR both BLOB and VALUES specified"


def test_failed_tensorset_keeps_previous_value_each_kind(raw):
    before = raw.ok("AI.TENSORGET", "k", "BLOB")
    failures = [
        ["k", "NOPE", 1],
        ["k", "FLOAT", 0],
        ["k", "INT16", 2, "BLOB", b"\0"],
        ["k", "INT16", 2, "VALUES", 1, 70000],
        ["k", "INT16", 2, "VALUES", 1],
        ["k", "BOOL", 1, "BLOB", b"\x05"],
        ["k", "STRING", 2, "BLOB", b"a\0"],
        ["k", "STRING", 1, "VALUES", b"a\0b"],
        ["k", "INT16", 2, "BLOB"],
    ]
    for args in failures:
        assert isinstance(raw.call("AI.TENSORSET", *args), RespError), args
        assert raw.ok("AI.TENSORGET", "k", "BLOB") == before
    # and no key was created by a failed TENSORSET on a missing key
    raw.error("AI.TENSORSET", "fresh", "FLOAT", 2, "VALUES", 1)
    assert raw.ok("EXISTS", "fresh") == 0
