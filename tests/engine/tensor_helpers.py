"""Helpers for the tensor tests: a raw RESP2 client (exact error texts as
the server sends them, without redis-py's prefix handling), dtype tables and
small waiting helpers."""
import socket
import time

import numpy as np

# dtype name -> numpy dtype
NP = {
    "FLOAT": np.float32, "DOUBLE": np.float64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "UINT8": np.uint8, "UINT16": np.uint16, "BOOL": np.bool_,
}
NUMERIC = list(NP)
ALL_DTYPES = NUMERIC + ["STRING"]
INT_RANGE = {
    "INT8": (-2**7, 2**7 - 1), "INT16": (-2**15, 2**15 - 1),
    "INT32": (-2**31, 2**31 - 1), "INT64": (-2**63, 2**63 - 1),
    "UINT8": (0, 2**8 - 1), "UINT16": (0, 2**16 - 1), "BOOL": (0, 1),
}
WRONGTYPE = b"WRONGTYPE Operation against a key holding the wrong kind of value"


class RespError(Exception):
    """An error reply; .text is the exact text after the '-'."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, (int, float)) and not isinstance(a, bool):
            a = repr(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawClient:
    """Minimal RESP2 client on the server's unix socket."""

    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RespError(rest)
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise AssertionError("unexpected reply %r" % line)

    def send(self, *args):
        self.sock.sendall(encode(args))

    def call(self, *args):
        """Returns the reply; error replies come back as RespError objects."""
        self.send(*args)
        return self.read()

    def ok(self, *args):
        reply = self.call(*args)
        if isinstance(reply, RespError):
            raise reply
        return reply

    def error(self, *args):
        reply = self.call(*args)
        assert isinstance(reply, RespError), "expected an error, got %r" % (reply,)
        return reply.text


def info_field(r, section, name):
    raw = r.execute_command("INFO", section)
    if isinstance(raw, dict):
        return raw.get(name)
    for line in raw.decode().splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def wait_for(cond, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)
