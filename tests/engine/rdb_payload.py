"""Redis DUMP payloads of module values, written and read from the format
description (not from any implementation): the object type byte, the value,
a 2-byte RDB version and a CRC-64 (Jones, reflected) of everything before it,
both little-endian.  A module value (type 7, "module 2") is the module id
then opcode-tagged primitives ending with an EOF opcode:

    id     = 9 type-name characters x 6 bits, then 10 bits encoding version
    UINT   = len(2) len(value)      STRING = len(5) string      EOF = len(0)

RedisModule_SaveSigned writes its value as a UINT (two's complement), so a
Signed field looks like an Unsigned one; the SINT opcode (1) is not used.

`len` is RDB's length encoding; a string is a length and bytes, or a
special encoding: an 8/16/32-bit integer in text form, or LZF."""
import struct

TYPE_MODULE_2 = 7
OP_EOF, OP_SINT, OP_UINT, OP_FLOAT, OP_DOUBLE, OP_STRING = range(6)


def signed(v):
    return v - 2**64 if v >= 2**63 else v
NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _crc_table():
    poly = 0x95AC9329AC4BC9B5  # 0xad93d23594c935a9, bit-reflected
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


def crc64(data, crc=0):
    for b in data:
        crc = _CRC[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def module_id(name, encver):
    assert len(name) == 9
    mid = 0
    for ch in name:
        mid = (mid << 6) | NAME_CHARS.index(ch)
    return (mid << 10) | encver


def enc_len(n):
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n < 1 << 32:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def lzf_literals(data):
    """Valid LZF made only of literal runs (at most 32 bytes each)."""
    out = bytearray()
    for i in range(0, len(data), 32):
        chunk = data[i:i + 32]
        out += bytes([len(chunk) - 1]) + chunk
    return bytes(out)


class Writer:
    """Builds a module value: w.uint(2); w.string(b"..."); w.payload(...)."""

    def __init__(self, name, encver):
        self.out = bytearray([TYPE_MODULE_2]) + enc_len(module_id(name, encver))

    def uint(self, v):
        self.out += enc_len(OP_UINT) + enc_len(v)
        return self

    def sint(self, v):
        return self.uint(v & (2**64 - 1))

    def raw(self, data):
        """Bytes as they are, to build malformed values."""
        self.out += data
        return self

    def string(self, s, form="plain"):
        self.out += enc_len(OP_STRING)
        if form == "plain":
            self.out += enc_len(len(s)) + s
        elif form == "int8":  # the text of a small integer, e.g. b"12"
            self.out += b"\xc0" + struct.pack("<b", int(s))
        elif form == "lzf":
            packed = lzf_literals(s)
            self.out += b"\xc3" + enc_len(len(packed)) + enc_len(len(s)) + packed
        else:
            raise ValueError(form)
        return self

    def payload(self, rdb_version=9):
        body = bytes(self.out) + enc_len(OP_EOF) + struct.pack("<H", rdb_version)
        return body + struct.pack("<Q", crc64(body))


def lzf_decompress(data, out_len):
    out = bytearray()
    i = 0
    while i < len(data):
        ctrl = data[i]
        i += 1
        if ctrl < 32:  # literal run of ctrl + 1 bytes
            out += data[i:i + ctrl + 1]
            i += ctrl + 1
            continue
        n = ctrl >> 5
        if n == 7:
            n += data[i]
            i += 1
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        for _ in range(n + 2):  # byte by byte: the copy may overlap itself
            out.append(out[ref])
            ref += 1
    assert len(out) == out_len, "LZF length mismatch"
    return bytes(out)


class Reader:
    """Checks a DUMP payload's CRC and keeps its .rdb_version; then
    module_value() returns (type name, encver, items), each item being
    ("uint", value) or ("string", bytes)."""

    def __init__(self, payload):
        body, trailer = payload[:-8], payload[-8:]
        assert struct.unpack("<Q", trailer)[0] == crc64(body), "CRC-64 mismatch"
        self.rdb_version = struct.unpack("<H", body[-2:])[0]
        self.data, self.pos = body[:-2], 0

    def byte(self):
        b = self.data[self.pos]
        self.pos += 1
        return b

    def take(self, n):
        s = self.data[self.pos:self.pos + n]
        assert len(s) == n, "payload too short"
        self.pos += n
        return s

    def length(self):
        """Returns (value, is_special_encoding)."""
        b = self.byte()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.byte(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return struct.unpack(">I", self.take(4))[0], False
        if b == 0x81:
            return struct.unpack(">Q", self.take(8))[0], False
        raise AssertionError("bad length byte %#x" % b)

    def string(self):
        n, special = self.length()
        if not special:
            return self.take(n)
        if n in (0, 1, 2):
            fmt = ("<b", "<h", "<i")[n]
            return str(struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]).encode()
        assert n == 3, "unknown string encoding %d" % n
        clen, _ = self.length()
        olen, _ = self.length()
        return lzf_decompress(self.take(clen), olen)

    def module_value(self):
        assert self.byte() == TYPE_MODULE_2
        mid, _ = self.length()
        encver, chars = mid & 0x3FF, mid >> 10
        name = "".join(NAME_CHARS[(chars >> (6 * (8 - i))) & 0x3F] for i in range(9))
        items = []
        while True:
            op, _ = self.length()
            if op == OP_EOF:
                break
            if op == OP_UINT:
                items.append(("uint", self.length()[0]))
            elif op == OP_STRING:
                items.append(("string", self.string()))
            else:
                raise AssertionError("unexpected opcode %d" % op)
        assert self.pos == len(self.data), "bytes after the EOF opcode"
        return name, encver, items
