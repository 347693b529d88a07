"""Bad input never crashes the server: thousands of random and malformed
AI.TENSORSET / AI.TENSORGET argument vectors (fixed seed), each checked
against a model of spec §4.3 / §4.4 that predicts +OK and the stored value,
or the exact error text.  A failed set must leave the key as it was; at the
end every key is checked again, also after DEBUG RELOAD."""
import re
import threading
import time

import numpy as np
import pytest

from tensor_helpers import WRONGTYPE, RawClient, RespError

SEED = 20240602
N_SET, N_GET = 3000, 1500
MAX_BYTES = 1 << 31  # the engine's largest tensor (RAI_TENSOR_MAX_BYTES)
PROTO_MAX_BULK_LEN = 512 << 20  # Redis's default: the largest tensor a command may make

SIZE = {"FLOAT": 4, "DOUBLE": 8, "INT8": 1, "INT16": 2, "INT32": 4, "INT64": 8,
        "UINT8": 1, "UINT16": 2, "BOOL": 1, "STRING": 1}
NPT = {"FLOAT": np.float32, "DOUBLE": np.float64, "INT8": np.int8, "INT16": np.int16,
       "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16, "BOOL": np.uint8}
RANGE = {"INT8": (-2**7, 2**7 - 1), "INT16": (-2**15, 2**15 - 1), "INT32": (-2**31, 2**31 - 1),
         "INT64": (-2**63, 2**63 - 1), "UINT8": (0, 255), "UINT16": (0, 65535), "BOOL": (0, 1)}

SHAPE = b"ERR invalid or negative value found in tensor shape"
BLOB_ARG = b"ERR a single binary string should come after the BLOB argument in 'AI.TENSORSET' command"
BLOB_LEN = b"ERR data length does not match tensor shape and type"
BOOL_ERR = b"ERR BOOL tensor elements must be 0 or 1"
STR_COUNT = b"ERR Number of string elements in data blob does not match tensor length"
NVALUES = b"ERR wrong number of values was given in 'AI.TENSORSET' command"
INVALID = b"ERR invalid value"
NUL = b"ERR C-string value contains null character"
EMPTY = b"ERR tensor key is empty or in a different shard"
FORMAT = b"ERR unsupported data format"
BOTH = b"ERR both BLOB and VALUES specified"
STRICT_INT = re.compile(rb"0|-?[1-9][0-9]*")  # what Redis' string2ll accepts


def too_big(what, nbytes, limit=PROTO_MAX_BULK_LEN):
    return b"ERR %s of %d bytes is larger than proto-max-bulk-len (%d bytes)" % (what.encode(), nbytes, limit)


def as_ll(tok):
    """The integer Redis parses from `tok`, or None."""
    if not STRICT_INT.fullmatch(tok):
        return None
    v = int(tok)
    return v if -2**63 <= v < 2**63 else None


def is_word(tok, word):
    return tok.upper() == word


# ---- the model: what the spec says AI.TENSORSET does -------------------------

def expect_set(args, current):
    """Returns ("ok", (dtype, shape, blob)) or ("err", text) for
    AI.TENSORSET <args>; `current` is the key's value (None, a tensor
    triple, or "string" for a key of another type)."""
    if len(args) < 3:
        return "err", b"ERR wrong number of arguments for 'ai.tensorset' command"
    if current == "string":
        return "err", WRONGTYPE
    dt = args[1].upper().decode("latin-1")
    if dt not in SIZE:
        return "err", b"ERR invalid data type"
    rest, dims = args[2:], []
    while rest and not (is_word(rest[0], b"BLOB") or is_word(rest[0], b"VALUES")):
        d = as_ll(rest[0])
        if d is None or d <= 0:
            return "err", SHAPE
        dims.append(d)
        rest = rest[1:]
    n = 1
    for d in dims:
        n *= d
    if n * SIZE[dt] > MAX_BYTES:
        return "err", SHAPE
    if n * SIZE[dt] > PROTO_MAX_BULK_LEN:
        return "err", too_big("tensor", n * SIZE[dt])
    if not rest:
        return "ok", (dt, dims, bytes(n * SIZE[dt]))
    if is_word(rest[0], b"BLOB"):
        if len(rest) != 2:
            return "err", BLOB_ARG
        blob = rest[1]
        if dt == "STRING":
            if not blob.endswith(b"\0") or blob.count(b"\0") != n:
                return "err", STR_COUNT
        elif len(blob) != n * SIZE[dt]:
            return "err", BLOB_LEN
        elif dt == "BOOL" and any(b > 1 for b in blob):
            return "err", BOOL_ERR
        return "ok", (dt, dims, blob)
    vals = rest[1:]
    if len(vals) != n:
        return "err", NVALUES
    if dt == "STRING":
        if any(b"\0" in v for v in vals):
            return "err", NUL
        return "ok", (dt, dims, b"".join(v + b"\0" for v in vals))
    out = []
    for v in vals:
        if dt in ("FLOAT", "DOUBLE"):
            x = FLOAT_TOKENS.get(v)
            if x is None:
                return "err", INVALID
        else:
            x = as_ll(v)
            lo, hi = RANGE[dt]
            if x is None or not lo <= x <= hi:
                return "err", INVALID
        out.append(x)
    with np.errstate(over="ignore"):
        blob = np.array(out, dtype=np.float64 if dt in ("FLOAT", "DOUBLE") else object).astype(NPT[dt])
    return "ok", (dt, dims, blob.tobytes())


def expect_get(args, current):
    if not 1 <= len(args) <= 3:
        return "err", b"ERR wrong number of arguments for 'ai.tensorget' command"
    if current is None:
        return "err", EMPTY
    if current == "string":
        return "err", WRONGTYPE
    opts = {o.upper() for o in args[1:]}
    if not opts <= {b"META", b"BLOB", b"VALUES"}:
        return "err", FORMAT
    if {b"BLOB", b"VALUES"} <= opts:
        return "err", BOTH
    return "ok", opts or {b"META", b"BLOB"}


# ---- the generator ------------------------------------------------------------

# FLOAT/DOUBLE VALUES tokens whose meaning is certain: value, or None = invalid
FLOAT_TOKENS = {b"1": 1.0, b"-2.5": -2.5, b"0": 0.0, b"-0": -0.0, b"1e10": 1e10, b"3.4e38": 3.4e38,
                b"1e300": 1e300, b"inf": float("inf"), b"-inf": float("-inf"), b"0.1": 0.1,
                b"123456789.125": 123456789.125, b"-1e-30": -1e-30}
BAD_FLOATS = [b"nan", b"abc", b"", b" 1", b"1 ", b"1.2.3", b"1e999", b"1e-400", b"--1", b"1,5", b"\x00"]
BAD_INTS = [b"1.5", b"abc", b"", b"+1", b"01", b"-0", b" 1", b"9223372036854775808",
            b"-9223372036854775809", b"1e3", b"0x10", b"\x001"]
DTYPE_WORDS = [b"FLOAT", b"DOUBLE", b"INT8", b"INT16", b"INT32", b"INT64", b"UINT8", b"UINT16",
               b"BOOL", b"STRING", b"float", b"Int32", b"string", b"bool"]
BAD_DTYPES = [b"FLOAT16", b"UINT32", b"UINT64", b"INT", b"", b"FLOAT32", b"STR", b"\xff"]
HUGE_DIMS = [b"2147483648", b"4294967296", b"1099511627776", b"4611686018427387904",
             b"9223372036854775807", b"18446744073709551616", b"65536", b"1048576"]
BAD_DIMS = [b"0", b"-1", b"-9223372036854775808", b"abc", b"1.0", b"", b"+2", b"02", b"2 ", b"META"]


class Fuzzer:
    def __init__(self, rng, keys):
        self.rng = rng
        self.keys = keys

    def pick(self, seq):
        return seq[int(self.rng.integers(len(seq)))]

    def chance(self, p):
        return self.rng.random() < p

    def dims(self, small):
        rank = int(self.rng.integers(0, 5 if small else 9))
        if not small and self.chance(0.05):
            rank = int(self.rng.integers(20, 300))  # a rank far above any backend's
        out = []
        for _ in range(rank):
            r = self.rng.random()
            if small or r < 0.8:
                out.append(str(int(self.rng.integers(1, 5 if small else 9))).encode())
            elif r < 0.92:
                out.append(self.pick(HUGE_DIMS))
            else:
                out.append(self.pick(BAD_DIMS))
        return out

    def value(self, dt):
        if dt.upper() == b"STRING":
            s = bytes(self.rng.integers(1, 256, int(self.rng.integers(0, 6)), dtype=np.uint8))
            return s + b"\0" + s if self.chance(0.03) else s
        if dt.upper() in (b"FLOAT", b"DOUBLE"):
            return self.pick(BAD_FLOATS) if self.chance(0.03) else self.pick(list(FLOAT_TOKENS))
        lo, hi = RANGE.get(dt.upper().decode("latin-1"), (-2**63, 2**63 - 1))
        r = self.rng.random()
        if r < 0.03:
            return self.pick(BAD_INTS)
        if r < 0.06:
            return str(self.pick([lo - 1, hi + 1, -2**63, 2**63 - 1])).encode()
        return str(int(self.rng.integers(lo, hi, endpoint=True))).encode()

    def string_blob(self, n):
        parts = [self.value(b"STRING").replace(b"\0", b"") for _ in range(n)]
        blob = b"".join(p + b"\0" for p in parts)
        r = self.rng.random()
        if r < 0.1:
            return blob[:-1]  # no final NUL
        if r < 0.2:
            return blob + b"x\0"  # one too many
        return blob

    def numeric_blob(self, dt, nbytes):
        r = self.rng.random()
        if r < 0.1:
            nbytes += int(self.rng.integers(-3, 4))
        nbytes = max(nbytes, 0)
        if dt != b"BOOL" or r < 0.2:
            return bytes(self.rng.integers(0, 256, nbytes, dtype=np.uint8))
        blob = bytearray(self.rng.integers(0, 2, nbytes, dtype=np.uint8))
        if blob and r < 0.4:
            blob[int(self.rng.integers(len(blob)))] = self.pick([2, 255])  # one bad byte
        return bytes(blob)

    def tensorset(self):
        key = self.pick(self.keys)
        dt = self.pick(BAD_DTYPES if self.chance(0.08) else DTYPE_WORDS)
        mode = self.pick(["none", "blob", "blob", "blob", "values", "values", "values", "junk"])
        if self.chance(0.04):
            return [key, dt][:int(self.rng.integers(0, 3))]
        dims = self.dims(small=mode in ("none", "values"))
        args = [key, dt] + dims
        size = SIZE.get(dt.upper().decode("latin-1"), 4)
        n = 1
        for d in dims:
            n *= as_ll(d) or 1
        if mode == "none":
            return args
        if mode == "blob":
            blob = self.string_blob(min(n, 64)) if dt.upper() == b"STRING" else \
                self.numeric_blob(dt.upper(), min(n * size, 1 << 16))
            tail = [self.pick([b"BLOB", b"blob", b"Blob"]), blob]
            if self.chance(0.05):
                tail = tail[:1] if self.chance(0.5) else tail + [blob]
            return args + tail
        if mode == "values":
            count = min(n, 200) + (int(self.rng.integers(-1, 2)) if self.chance(0.1) else 0)
            return args + [self.pick([b"VALUES", b"values"])] + [self.value(dt) for _ in range(max(count, 0))]
        # junk: random words where the data should be
        words = [b"BLOB", b"VALUES", b"META", b"1", b"-1", b"\0", b"x" * 100]
        return args + [self.pick(words) for _ in range(int(self.rng.integers(1, 5)))]

    def tensorget(self):
        words = [b"META", b"BLOB", b"VALUES", b"meta", b"blob", b"values", b"", b"JSON", b"META "]
        return [self.pick(self.keys)] + [self.pick(words) for _ in range(int(self.rng.integers(0, 5)))]


# ---- the test -------------------------------------------------------------------

def stored(c, key):
    reply = c.call("AI.TENSORGET", key, "META", "BLOB")
    if isinstance(reply, RespError):
        return reply.text
    _, dt, _, shape, _, blob = reply
    return dt.decode(), shape, blob


def check_all(c, state):
    for key, want in state.items():
        if want is None:
            assert c.call("EXISTS", key) == 0, key
        elif want == "string":
            assert c.call("GET", key) == b"plain", key
        else:
            assert stored(c, key) == want, key


@pytest.fixture
def fuzz_server(engine):
    c = RawClient(engine.sock)
    state = {}
    for i, dt in enumerate(SIZE):
        key = b"t:" + dt.encode()
        c.ok("AI.TENSORSET", key, dt, 2, "BLOB", b"a\0b\0" if dt == "STRING" else bytes([1]) * 2 * SIZE[dt])
        state[key] = stored(c, key)
    c.ok("SET", "plain", "plain")
    state[b"plain"] = "string"
    state.update({b"absent:1": None, b"absent:2": None})
    yield engine, c, state
    c.close()


def test_random_tensorset_and_tensorget(fuzz_server):
    engine, c, state = fuzz_server
    fz = Fuzzer(np.random.default_rng(SEED), list(state))
    outcomes = {}
    for i in range(N_SET):
        args = fz.tensorset()
        key = args[0] if args else None
        kind, want = expect_set(args, state.get(key))
        reply = c.call("AI.TENSORSET", *args)
        what = "set #%d %r" % (i, [a[:40] for a in args[:12]])
        if kind == "ok":
            assert reply == b"OK", what + " -> %r" % (reply,)
            state[key] = want
        else:
            assert isinstance(reply, RespError) and reply.text == want, what + " -> %r" % (reply,)
        outcomes[want if kind == "err" else b"OK"] = outcomes.get(want if kind == "err" else b"OK", 0) + 1
        if key is not None and state.get(key) not in (None, "string"):
            assert stored(c, key) == state[key], what
    for i in range(N_GET):
        args = fz.tensorget()
        kind, want = expect_get(args, state.get(args[0]))
        reply = c.call("AI.TENSORGET", *args)
        what = "get #%d %r" % (i, args)
        if kind == "err":
            assert isinstance(reply, RespError) and reply.text == want, what + " -> %r" % (reply,)
            continue
        assert not isinstance(reply, RespError), what + " -> %r" % (reply,)
        if want == {b"BLOB"}:
            assert reply == state[args[0]][2], what
        elif b"META" in want:
            assert reply[:4] == [b"dtype", state[args[0]][0].encode(), b"shape", state[args[0]][1]], what
    # the mix really exercised both outcomes and the error paths
    assert outcomes[b"OK"] > N_SET // 10
    for text in (SHAPE, BLOB_ARG, BLOB_LEN, BOOL_ERR, STR_COUNT, NVALUES, INVALID, NUL,
                 b"ERR invalid data type", WRONGTYPE):
        assert outcomes.get(text, 0) > 0, text
    assert c.call("PING") == b"PONG" and engine.alive()
    check_all(c, state)
    c.ok("DEBUG", "RELOAD")
    check_all(c, state)


def test_overflowing_shapes_are_refused_without_allocating(fuzz_server):
    engine, c, state = fuzz_server
    big = [
        [b"4294967296", b"4294967296"],              # 2^64 elements: wraps to 0 in size_t
        [b"2147483648", b"2147483648", b"4"],
        [b"3037000500", b"3037000500"],              # just over 2^63
        [b"65536"] * 4,
        [b"9223372036854775807"],
        [b"1"] * 100 + [b"4611686018427387904", b"4"],
    ]
    for dims in big:
        for dt in ("UINT8", "DOUBLE", "STRING"):
            for tail in ([], [b"BLOB", b"\0" * 8], [b"VALUES", b"1"]):
                assert c.error("AI.TENSORSET", b"t:" + dt.encode(), dt, *dims, *tail) == SHAPE, dims
    check_all(c, state)
    assert engine.alive()


def test_a_rank_of_a_million_dims(fuzz_server):
    """Dims are only bounded by the argument count; a rank of 1.5 million
    once overflowed the main thread's stack."""
    engine, c, state = fuzz_server
    rank = 1_500_000
    assert c.ok("AI.TENSORSET", "deep", "UINT8", *([1] * rank), "BLOB", b"\1") == b"OK"
    meta = c.ok("AI.TENSORGET", "deep", "META")
    assert meta[1] == b"UINT8" and len(meta[3]) == rank and set(meta[3]) == {1}
    assert c.error("AI.TENSORSET", "t:FLOAT", "FLOAT", *([1] * rank), 0) == SHAPE
    c.ok("DEBUG", "RELOAD")
    assert c.ok("AI.TENSORGET", "deep", "BLOB") == b"\1"
    check_all(c, state)


# ---- size limits: one small command may not take gigabytes ---------------------

class Pinger:
    """PINGs from its own connection while a test runs; `worst` is the
    slowest answer in seconds."""

    def __init__(self, sock):
        self.c, self.worst, self.count = RawClient(sock), 0.0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            assert self.c.call("PING") == b"PONG"
            self.worst, self.count = max(self.worst, time.monotonic() - t0), self.count + 1
            time.sleep(0.001)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.c.close()


PING_WITHIN = 0.2  # seconds: generous for a loaded shared machine; a 2 GiB VALUES reply takes minutes


def test_tensors_larger_than_proto_max_bulk_len_are_refused(fuzz_server):
    engine, c, state = fuzz_server
    with Pinger(engine.sock) as pinger:
        # 30 bytes sent, 2 GiB asked for (RedisAI allocated it)
        assert c.error("AI.TENSORSET", "u", "UINT8", 2147483648) == too_big("tensor", 1 << 31)
        assert c.error("AI.TENSORSET", "u", "UINT8", PROTO_MAX_BULK_LEN + 1) == too_big("tensor", PROTO_MAX_BULK_LEN + 1)
        assert c.error("AI.TENSORSET", "u", "DOUBLE", 8192, 8193, "VALUES", 1) == too_big("tensor", 8 * 8192 * 8193)
        assert c.error("AI.TENSORSET", "u", "FLOAT", 1 << 28, "BLOB", b"\0" * 8) == too_big("tensor", 1 << 30)
        # 64-bit overflow: refused as a bad shape, before any size is computed
        assert c.error("AI.TENSORSET", "u", "UINT8", 1 << 32, 1 << 32) == SHAPE
        # inside a DAG
        reply = c.call("AI.DAGEXECUTE", "PERSIST", 1, "u", "|>", "AI.TENSORSET", "u", "UINT8", 2147483648)
        assert isinstance(reply, RespError) and reply.text == too_big("tensor", 1 << 31)
        # the largest allowed is allowed
        assert c.ok("AI.TENSORSET", "u", "UINT8", PROTO_MAX_BULK_LEN) == b"OK"
        c.ok("DEL", "u")
        # the limit follows CONFIG SET
        c.ok("CONFIG", "SET", "proto-max-bulk-len", 2 << 20)
        try:
            assert c.error("AI.TENSORSET", "u", "UINT8", (2 << 20) + 1) == too_big("tensor", (2 << 20) + 1, 2 << 20)
        finally:
            c.ok("CONFIG", "SET", "proto-max-bulk-len", PROTO_MAX_BULK_LEN)
    assert pinger.count > 0 and pinger.worst < PING_WITHIN, pinger.worst
    assert c.call("EXISTS", "u") == 0
    check_all(c, state)


def test_tensors_that_would_pass_maxmemory_are_refused(fuzz_server):
    engine, c, state = fuzz_server
    used = int(dict(line.split(b":") for line in c.ok("INFO", "memory").splitlines() if b":" in line)[b"used_memory"])
    c.ok("CONFIG", "SET", "maxmemory", used + (30 << 20))
    try:
        with Pinger(engine.sock) as pinger:
            assert c.error("AI.TENSORSET", "u", "UINT8", 100 << 20) == \
                b"OOM tensor of 104857600 bytes would take used memory past 'maxmemory'"
            reply = c.call("AI.DAGEXECUTE", "PERSIST", 1, "u", "|>", "AI.TENSORSET", "u", "FLOAT", 10 << 20)
            assert isinstance(reply, RespError) and reply.text.startswith(b"OOM tensor of 41943040 bytes")
            assert c.ok("AI.TENSORSET", "u", "UINT8", 10 << 20) == b"OK"  # what fits, fits
        assert pinger.worst < PING_WITHIN, pinger.worst
    finally:
        c.ok("CONFIG", "SET", "maxmemory", 0)
    assert c.ok("AI.TENSORSET", "v", "UINT8", 100 << 20) == b"OK"  # no limit again
    c.ok("DEL", "u", "v")
    check_all(c, state)


VALUES_LIMIT = 1 << 20  # the default VALUES_REPLY_LIMIT


def values_too_many(n, limit=VALUES_LIMIT):
    return b"ERR tensor has %d values, more than VALUES_REPLY_LIMIT (%d): get it as a BLOB" % (n, limit)


def test_values_replies_larger_than_the_limit_are_refused(fuzz_server):
    engine, c, state = fuzz_server
    assert c.ok("AI.CONFIG", "GET", "VALUES_REPLY_LIMIT") == VALUES_LIMIT
    n = 64 << 20  # 64 Mi elements: such a reply kept PING waiting 0.7 s
    assert c.ok("AI.TENSORSET", "big", "UINT8", n) == b"OK"
    with Pinger(engine.sock) as pinger:
        for fmt in (["VALUES"], ["META", "VALUES"]):
            assert c.error("AI.TENSORGET", "big", *fmt) == values_too_many(n)
        reply = c.call("AI.DAGEXECUTE_RO", "LOAD", 1, "big", "|>", "AI.TENSORGET", "big", "VALUES")
        assert reply[0].text == values_too_many(n)
    assert pinger.worst < PING_WITHIN, pinger.worst
    assert c.ok("AI.TENSORGET", "big", "META") == [b"dtype", b"UINT8", b"shape", [n]]
    assert c.ok("AI.TENSORSET", "edge", "UINT8", VALUES_LIMIT) == b"OK"
    assert len(c.ok("AI.TENSORGET", "edge", "VALUES")) == VALUES_LIMIT
    assert c.ok("AI.CONFIG", "VALUES_REPLY_LIMIT", 10) == b"OK"
    assert len(c.ok("AI.TENSORGET", "t:FLOAT", "VALUES")) == 2
    assert c.error("AI.TENSORGET", "edge", "VALUES") == values_too_many(VALUES_LIMIT, 10)
    assert c.ok("AI.CONFIG", "VALUES_REPLY_LIMIT", 0) == b"OK"  # no limit
    assert len(c.ok("AI.TENSORGET", "edge", "VALUES")) == VALUES_LIMIT
    assert c.error("AI.CONFIG", "VALUES_REPLY_LIMIT", -1) == \
        b"ERR VALUES_REPLY_LIMIT: invalid value (0: no limit, or a count)"
    c.ok("AI.CONFIG", "VALUES_REPLY_LIMIT", VALUES_LIMIT)
    c.ok("DEL", "big", "edge")
    check_all(c, state)


def test_values_reply_limit_as_a_module_argument(server_factory):
    from support.server import ENGINE
    srv = server_factory(modules=[(ENGINE, ["VALUES_REPLY_LIMIT", 3])])
    c = RawClient(srv.sock)
    c.ok("AI.TENSORSET", "t", "INT8", 4, "VALUES", 1, 2, 3, 4)
    assert c.error("AI.TENSORGET", "t", "VALUES") == values_too_many(4, 3)
    assert c.ok("AI.CONFIG", "GET", "VALUES_REPLY_LIMIT") == 3
    c.close()


def test_model_and_script_blobs_follow_the_same_limits(fuzz_server):
    engine, c, state = fuzz_server
    c.ok("CONFIG", "SET", "proto-max-bulk-len", 1 << 20)
    try:
        chunk = b"\0" * (700 << 10)
        assert c.error("AI.MODELSTORE", "m", "ONNX", "CPU", "BLOB", chunk, chunk) == \
            too_big("model", 1400 << 10, 1 << 20)
    finally:
        c.ok("CONFIG", "SET", "proto-max-bulk-len", PROTO_MAX_BULK_LEN)
    used = int(dict(line.split(b":") for line in c.ok("INFO", "memory").splitlines() if b":" in line)[b"used_memory"])
    source = b"#" * (8 << 20) + b"\ndef f(tensors: List[Tensor], keys: List[str], args: List[str]):\n    return tensors[0]\n"
    # Raise maxmemory 1 MB at a time: the first limit at which Redis lets
    # the command run (it counts the 8 MB argument) is one the 8 MB script
    # would pass.
    try:
        for extra in range(4, 64):
            c.ok("CONFIG", "SET", "maxmemory", used + (extra << 20))
            reply = c.call("AI.SCRIPTSTORE", "s", "CPU", "ENTRY_POINTS", 1, "f", "SOURCE", source)
            if reply.text != b"OOM command not allowed when used memory > 'maxmemory'.":
                break
        assert reply.text == b"OOM script of %d bytes would take used memory past 'maxmemory'" % len(source)
    finally:
        c.ok("CONFIG", "SET", "maxmemory", 0)
    assert c.call("EXISTS", "m", "s") == 0


def test_limits_from_the_configuration_file_apply(server_factory):
    from support.server import ENGINE
    srv = server_factory(modules=[(ENGINE, [])], config=[("proto-max-bulk-len", "2mb"), ("maxmemory", "40mb")])
    c = RawClient(srv.sock)
    assert c.error("AI.TENSORSET", "u", "UINT8", 3 << 20) == too_big("tensor", 3 << 20, 2 << 20)
    c.ok("CONFIG", "SET", "proto-max-bulk-len", "512mb")
    assert c.error("AI.TENSORSET", "u", "UINT8", 100 << 20) == \
        b"OOM tensor of 104857600 bytes would take used memory past 'maxmemory'"
    assert c.call("EXISTS", "u") == 0
    c.close()
