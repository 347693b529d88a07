"""AI_TENSOR in RedisAI 1.2.7's v4 RDB layout (spec §5.3), checked at the
byte level through DUMP/RESTORE payloads built and parsed by rdb_payload.py:

    Unsigned code, Unsigned bits, Signed ndims, Signed dim x ndims,
    StringBuffer data, and for STRING one Unsigned byte offset per element.

A payload written the way RedisAI 1.2.7 on Redis 6 writes it (RDB version 9)
restores here; our DUMP is exactly that layout; malformed values are refused
with RESTORE's error and never take the server down.  Versions 0-3 (RedisAI
before 1.2) wrote the DLPack fields in the order spec §5.3 lists them:
device type, device id, bits, code, lanes, ndims, dims, strides, byte_offset,
data; they load too, and are saved again as v4."""
import numpy as np
import pytest

from rdb_payload import Reader, Writer, signed
from tensor_helpers import RawClient

# dtype -> (DLPack code, bits), spec §5.1 (6 = kDLBool and 7 = kDLString of RedisAI's fork)
CODES = {"FLOAT": (2, 32), "DOUBLE": (2, 64), "INT8": (0, 8), "INT16": (0, 16), "INT32": (0, 32),
         "INT64": (0, 64), "UINT8": (1, 8), "UINT16": (1, 16), "BOOL": (6, 8), "STRING": (7, 8)}
BAD_FORMAT = b"ERR Bad data format"


def offsets_of(blob):
    out, start = [], 0
    for i, b in enumerate(blob):
        if b == 0:
            out.append(start)
            start = i + 1
    return out


def v4(dt, dims, blob, form="plain", encver=4):
    code, bits = CODES[dt]
    w = Writer("AI_TENSOR", encver).uint(code).uint(bits).sint(len(dims))
    for d in dims:
        w.sint(d)
    w.string(blob, form)
    if dt == "STRING":
        for off in offsets_of(blob):
            w.uint(off)
    return w


def old(encver, dt, dims, blob, lanes=1, byte_offset=0):
    """A v0-v3 tensor value: a CPU tensor with C-contiguous strides."""
    code, bits = CODES[dt]
    w = Writer("AI_TENSOR", encver).uint(1).uint(0).uint(bits).uint(code).uint(lanes)
    w.sint(len(dims))
    for d in dims:
        w.sint(d)
    for i in range(len(dims)):
        w.sint(int(np.prod(dims[i + 1:], dtype=np.int64)))
    return w.uint(byte_offset).string(blob)


def cases():
    rng = np.random.default_rng(11)
    return {
        "float": ("FLOAT", [2, 3], np.arange(6, dtype=np.float32).tobytes()),
        "double-scalar": ("DOUBLE", [], np.array([-1.25]).tobytes()),
        "int8": ("INT8", [4], np.array([-128, 0, 1, 127], np.int8).tobytes()),
        "int16": ("INT16", [1, 2], np.array([-32768, 32767], np.int16).tobytes()),
        "int32": ("INT32", [3], np.array([-2**31, 7, 2**31 - 1], np.int32).tobytes()),
        "int64": ("INT64", [2, 1], np.array([-2**63, 2**63 - 1], np.int64).tobytes()),
        "uint8": ("UINT8", [3], bytes([0, 128, 255])),
        "uint16": ("UINT16", [2], np.array([1, 65535], np.uint16).tobytes()),
        "bool": ("BOOL", [2, 2], bytes([1, 0, 0, 1])),
        "string": ("STRING", [3], b"alpha\0\0w\xc3\xb6rld\0"),
        "string-scalar": ("STRING", [], b"one\0"),
        "rank70": ("UINT8", [1] * 69 + [2], b"\x05\x06"),
        # repeats: DUMP compresses it (LZF) when rdbcompression is on
        "repeats": ("INT32", [64, 64], np.tile(np.arange(64, dtype=np.int32), 64).tobytes()),
        # 1 MB of noise: large length encoding, not compressible
        "large": ("FLOAT", [512, 512], rng.standard_normal(512 * 512).astype(np.float32).tobytes()),
    }


CASES = cases()


@pytest.fixture
def raw(engine):
    c = RawClient(engine.sock)
    c.ok("AI.TENSORSET", "keep", "INT16", 2, "VALUES", 3, -4)
    yield c
    assert c.ok("AI.TENSORGET", "keep", "META", "VALUES") == [
        b"dtype", b"INT16", b"shape", [2], b"values", [3, -4]]
    assert engine.alive()
    c.close()


@pytest.mark.parametrize("name", list(CASES))
def test_hand_built_v4_payload_restores(raw, name):
    dt, dims, blob = CASES[name]
    assert raw.ok("RESTORE", name, 0, v4(dt, dims, blob).payload(rdb_version=9)) == b"OK"
    assert raw.ok("TYPE", name) == b"AI_TENSOR"
    assert raw.ok("AI.TENSORGET", name, "META", "BLOB") == [
        b"dtype", dt.encode(), b"shape", dims, b"blob", blob]
    if dt == "STRING":
        assert raw.ok("AI.TENSORGET", name, "VALUES") == blob.split(b"\0")[:-1]


@pytest.mark.parametrize("form", ["plain", "lzf"])
def test_restore_reads_every_string_encoding(raw, form):
    """RDB may store the data blob compressed (LZF) or, when it reads as a
    small integer, as that integer; the tensor must not care."""
    blob = np.arange(64, dtype=np.int32).tobytes()
    assert raw.ok("RESTORE", "t", 0, v4("INT32", [8, 8], blob, form).payload()) == b"OK"
    assert raw.ok("AI.TENSORGET", "t", "BLOB") == blob
    # two INT8 bytes that spell "12" are saved by Redis as the integer 12
    assert raw.ok("RESTORE", "i", 0, v4("INT8", [2], b"12", "int8").payload()) == b"OK"
    assert raw.ok("AI.TENSORGET", "i", "VALUES") == [ord("1"), ord("2")]


@pytest.mark.parametrize("compression", ["yes", "no"])
@pytest.mark.parametrize("name", list(CASES))
def test_our_dump_is_the_v4_layout(raw, name, compression):
    raw.ok("CONFIG", "SET", "rdbcompression", compression)
    dt, dims, blob = CASES[name]
    raw.ok("AI.TENSORSET", name, dt, *dims, "BLOB", blob)
    payload = raw.ok("DUMP", name)
    reader = Reader(payload)
    type_name, encver, items = reader.module_value()
    assert (type_name, encver) == ("AI_TENSOR", 4)
    code, bits = CODES[dt]
    want = [("uint", code), ("uint", bits), ("uint", len(dims))] + [("uint", d) for d in dims]
    want += [("string", blob)]
    if dt == "STRING":
        want += [("uint", off) for off in offsets_of(blob)]
    assert items == want
    assert signed(items[2][1]) == len(dims)
    if compression == "no" and len(blob) > 11:
        # then the bytes are exactly what the spec's layout gives
        assert payload == v4(dt, dims, blob).payload(rdb_version=reader.rdb_version)


@pytest.mark.parametrize("encver", [0, 1, 2, 3])
def test_older_encodings_restore_and_dump_as_v4(raw, encver):
    for name in ("float", "double-scalar", "int64", "uint16", "bool", "rank70", "large"):
        dt, dims, blob = CASES[name]
        assert raw.ok("RESTORE", name, 0, old(encver, dt, dims, blob).payload(rdb_version=9)) == b"OK"
        assert raw.ok("AI.TENSORGET", name, "META", "BLOB") == [
            b"dtype", dt.encode(), b"shape", dims, b"blob", blob], name
        type_name, saved_as, items = Reader(raw.ok("DUMP", name)).module_value()
        assert (type_name, saved_as, items[-1]) == ("AI_TENSOR", 4, ("string", blob))
    for bad in (old(encver, "FLOAT", [2], bytes(8), lanes=2),
                old(encver, "FLOAT", [2], bytes(8), byte_offset=4),
                old(encver, "FLOAT", [3], bytes(8)),
                old(encver, "FLOAT", [2], bytes(8)).uint(0)):
        assert raw.error("RESTORE", "bad", 0, bad.payload()) == BAD_FORMAT
    assert raw.ok("EXISTS", "bad") == 0


def test_dump_of_a_string_tensor_with_empty_elements(raw):
    raw.ok("AI.TENSORSET", "s", "STRING", 2, 2, "VALUES", "", "a", "", "")
    _, _, items = Reader(raw.ok("DUMP", "s")).module_value()
    assert items[-5:] == [("string", b"\0a\0\0\0"), ("uint", 0), ("uint", 1), ("uint", 3), ("uint", 4)]


def malformed():
    good = np.arange(4, dtype=np.float32).tobytes()
    w = lambda encver=4: Writer("AI_TENSOR", encver)
    return {
        "encver 5": v4("FLOAT", [4], good, encver=5),
        "unknown code": w().uint(3).uint(32).sint(1).sint(4).string(good),
        "float16": w().uint(2).uint(16).sint(1).sint(8).string(good),
        "string with 16 bits": w().uint(7).uint(16).sint(1).sint(1).string(b"a\0").uint(0),
        "negative rank": w().uint(2).uint(32).sint(-1).string(good),
        "rank with no dims": w().uint(2).uint(32).sint(2**40),
        "zero dim": w().uint(2).uint(32).sint(2).sint(0).sint(4).string(good),
        "negative dim": w().uint(2).uint(32).sint(1).sint(-4).string(good),
        "short data": w().uint(2).uint(32).sint(1).sint(5).string(good),
        "long data": w().uint(2).uint(32).sint(1).sint(3).string(good),
        "over 2 GB": w().uint(0).uint(64).sint(2).sint(2**20).sint(2**20).string(good),
        "bool 2": w().uint(6).uint(8).sint(1).sint(2).string(b"\1\2"),
        "string count": w().uint(7).uint(8).sint(1).sint(3).string(b"a\0b\0").uint(0).uint(2),
        "string no final NUL": w().uint(7).uint(8).sint(1).sint(1).string(b"ab").uint(0),
        "string offsets missing": w().uint(7).uint(8).sint(1).sint(2).string(b"a\0b\0").uint(0),
        "no data": w().uint(2).uint(32).sint(1).sint(4),
        "a SINT opcode": w().uint(2).uint(32).raw(b"\x01\x01").sint(4).string(good),
        "a DOUBLE opcode for a dim": w().uint(2).uint(32).sint(1).raw(b"\x04" + bytes(8)).string(good),
        "extra field": v4("FLOAT", [4], good).uint(9),
        "empty value": w(),
    }


MALFORMED = malformed()


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_values_are_refused(raw, name):
    payload = MALFORMED[name].payload()
    assert raw.error("RESTORE", "bad", 0, payload) == BAD_FORMAT
    assert raw.ok("EXISTS", "bad") == 0
    # REPLACE onto a live tensor: the old value stays
    assert raw.error("RESTORE", "keep", 0, payload, "REPLACE") == BAD_FORMAT
    assert raw.ok("PING") == b"PONG"
