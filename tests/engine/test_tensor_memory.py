"""Tensor memory as Redis accounts it: MEMORY USAGE follows the data size,
and every way a tensor leaves the keyspace (EXPIRE, RENAME over it, COPY
then DEL of both, overwrite, FLUSHALL sync and async) gives the memory back,
while failed sets and COPY's shared value cost nothing extra."""
import pytest

from tensor_helpers import info_field, wait_for

MB = 1024 * 1024
SLACK = 2 * MB  # allocator and bookkeeping noise, well under one tensor


def used(r):
    return int(info_field(r, "memory", "used_memory"))


def settle(r):
    wait_for(lambda: int(info_field(r, "memory", "lazyfree_pending_objects")) == 0, "lazy free")
    return used(r)


def returns_to(r, limit):
    """Waits until used memory is under `limit`.  Besides the lazy-free
    thread, Redis keeps a query buffer as large as the last big argument
    until its client cron shrinks it (SET does the same)."""
    wait_for(lambda: settle(r) < limit, "used_memory under %d (now %d)" % (limit, used(r)))


def put(r, key, mb=4, fill=b"\x01"):
    """A borrowed-blob tensor of `mb` MB (the common, large case)."""
    assert r.execute_command("AI.TENSORSET", key, "UINT8", mb, MB, "BLOB", fill * (mb * MB)) == b"OK"


@pytest.fixture
def base(r):
    return settle(r)


def test_memory_usage_follows_the_data(r):
    put(r, "blob", 4)
    r.execute_command("AI.TENSORSET", "zeros", "DOUBLE", 1024, 256)  # 2 MB, owned buffer
    r.execute_command("AI.TENSORSET", "vals", "INT64", 3, "VALUES", 1, 2, 3)
    r.execute_command("AI.TENSORSET", "strs", "STRING", 2, "BLOB", b"a" * 1000 + b"\0b\0")
    blob, zeros, vals, strs = (r.memory_usage(k) for k in ("blob", "zeros", "vals", "strs"))
    assert 4 * MB <= blob < 4 * MB + 64 * 1024
    assert 2 * MB <= zeros < 2 * MB + 64 * 1024
    assert 24 <= vals < 1024
    assert 1003 <= strs < 4096


def test_expire_frees(r, base):
    for i in range(8):
        put(r, "e%d" % i)
    assert used(r) - base >= 32 * MB  # measured before any can expire
    for i in range(8):
        r.pexpire("e%d" % i, 20)
    # no client touches the keys: the server's own expiry cycle removes them
    wait_for(lambda: r.dbsize() == 0, "active expiry")
    returns_to(r, base + SLACK)


def test_rename_over_a_tensor_frees_the_old_one(r, base):
    put(r, "a", 8)
    put(r, "b", 8)
    full = used(r)
    assert r.rename("a", "b")
    assert full - settle(r) >= 8 * MB - SLACK
    assert r.execute_command("AI.TENSORGET", "b", "META") == [b"dtype", b"UINT8", b"shape", [8, MB]]
    r.delete("b")
    returns_to(r, base + SLACK)


def test_copy_shares_and_frees_with_the_last_key(r, base):
    put(r, "src", 8)
    one = used(r)
    assert r.copy("src", "dst") and r.copy("src", "dst2")
    assert used(r) - one < SLACK  # the copies share the data
    assert r.memory_usage("dst") >= 8 * MB  # each key still reports its tensor
    r.delete("src", "dst")
    assert settle(r) - base >= 8 * MB - SLACK  # dst2 still holds it
    assert r.execute_command("AI.TENSORGET", "dst2", "BLOB") == b"\x01" * (8 * MB)
    r.delete("dst2")
    returns_to(r, base + SLACK)


def test_overwrite_and_failed_sets_do_not_leak(r, base):
    for i in range(20):
        put(r, "k", 4, fill=bytes([i % 2]))
    r.execute_command("AI.TENSORSET", "k", "UINT8", 4, MB)  # zero-filled, owned
    bad = b"\x07" * (4 * MB)
    for _ in range(30):  # each one is refused after its 4 MB blob arrived
        with pytest.raises(Exception):
            r.execute_command("AI.TENSORSET", "k", "BOOL", 4, MB, "BLOB", bad)
        with pytest.raises(Exception):
            r.execute_command("AI.TENSORSET", "k", "UINT8", 4, MB, "BLOB", bad + b"x")
    # only k's 4 MB remain of 21 stored and 60 refused tensors
    returns_to(r, base + 4 * MB + SLACK)
    assert r.execute_command("AI.TENSORGET", "k", "META") == [b"dtype", b"UINT8", b"shape", [4, MB]]
    assert r.execute_command("AI.TENSORGET", "k", "BLOB") == bytes(4 * MB)


@pytest.mark.parametrize("how", [[], ["ASYNC"], ["SYNC"]], ids=["default", "async", "sync"])
def test_flushall_frees(r, base, how):
    for i in range(6):
        put(r, "f%d" % i)
    r.execute_command("AI.TENSORSET", "z", "FLOAT", 1024, 1024)
    assert used(r) - base >= 28 * MB
    assert r.execute_command("FLUSHALL", *how)
    assert r.dbsize() == 0
    returns_to(r, base + SLACK)
