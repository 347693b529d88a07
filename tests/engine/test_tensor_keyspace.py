"""The AI_TENSOR key as Redis sees it: COMMAND INFO/GETKEYS (spec §4.1),
TYPE, MEMORY USAGE, generic key commands, memory given back, keyspace
notifications, INFO ai (spec §7.2)."""
import re

import numpy as np
import pytest
import redis

from tensor_helpers import info_field, wait_for


def test_command_info_flags_and_keys(engine):
    r = engine.client()
    r.response_callbacks.pop("COMMAND", None)
    r.response_callbacks.pop("COMMAND INFO", None)
    info = r.execute_command("COMMAND", "INFO", "ai.tensorset", "ai.tensorget", "ai.nosuch")
    tset, tget, missing = info
    assert tset[0] == b"ai.tensorset" and tget[0] == b"ai.tensorget"
    assert {b"write", b"denyoom"} <= set(tset[2]) and b"readonly" not in tset[2]
    assert b"readonly" in tget[2] and b"write" not in tget[2] and b"denyoom" not in tget[2]
    assert tset[3:6] == [1, 1, 1] and tget[3:6] == [1, 1, 1]
    assert missing is None
    assert r.execute_command("COMMAND", "GETKEYS", "AI.TENSORSET", "k", "FLOAT", "1") == [b"k"]
    assert r.execute_command("COMMAND", "GETKEYS", "AI.TENSORGET", "x", "META") == [b"x"]


def test_type_and_memory_usage_grows(r):
    r.execute_command("AI.TENSORSET", "small", "FLOAT", 4)
    r.execute_command("AI.TENSORSET", "mid", "FLOAT", 1024)
    r.execute_command("AI.TENSORSET", "large", "FLOAT", 1024, 256, "BLOB", b"\1" * 4096 * 256)
    assert r.type("small") == b"AI_TENSOR"
    small, mid, large = (r.memory_usage(k) for k in ("small", "mid", "large"))
    assert small < mid < large
    assert mid >= 4096 and large >= 1024 * 1024


def test_del_unlink_expire_rename_copy_flushall(r):
    t = lambda k: r.execute_command("AI.TENSORGET", k, "VALUES")
    for k in ("a", "b", "c", "e"):
        r.execute_command("AI.TENSORSET", k, "INT32", 2, "VALUES", 1, 2)
    assert r.delete("a") == 1 and r.exists("a") == 0
    assert r.unlink("b") == 1 and r.exists("b") == 0
    assert r.rename("c", "c2") and r.exists("c") == 0 and t("c2") == [1, 2]
    assert r.pexpire("e", 50)
    wait_for(lambda: r.exists("e") == 0, "expiry")
    r.execute_command("AI.TENSORSET", "p", "INT32", 2, "VALUES", 3, 4)
    assert r.persist("p") == 0 and r.expire("p", 1000) and 0 < r.ttl("p") <= 1000
    assert r.flushall()
    assert r.dbsize() == 0


def test_copy_is_independent(r):
    blob = np.arange(2048, dtype=np.float32).tobytes()  # borrowed-blob path
    r.execute_command("AI.TENSORSET", "src", "FLOAT", 2048, "BLOB", blob)
    r.execute_command("AI.TENSORSET", "s", "STRING", 2, "VALUES", "x", "yz")
    assert r.copy("src", "dst") and r.copy("s", "s2")
    assert r.delete("src", "s") == 2
    assert r.execute_command("AI.TENSORGET", "dst", "BLOB") == blob
    assert r.execute_command("AI.TENSORGET", "s2", "VALUES") == [b"x", b"yz"]
    # overwriting the copy does not touch a second copy
    assert r.copy("dst", "dst2")
    r.execute_command("AI.TENSORSET", "dst", "INT8", 1, "VALUES", 5)
    assert r.execute_command("AI.TENSORGET", "dst2", "BLOB") == blob
    assert r.execute_command("AI.TENSORGET", "dst", "VALUES") == [5]
    assert r.copy("dst2", "dst") is False  # no REPLACE: refused
    r.execute_command("DEBUG", "RELOAD")
    assert r.execute_command("AI.TENSORGET", "dst2", "BLOB") == blob


def used_memory(r):
    return int(info_field(r, "memory", "used_memory"))


def test_memory_returns_after_delete(r):
    mb = 1024 * 1024
    blob = b"\x01" * mb
    # warm up the client's buffers with one round first
    r.execute_command("AI.TENSORSET", "warm", "UINT8", mb, "BLOB", blob)
    r.delete("warm")
    base = used_memory(r)
    for i in range(50):
        r.execute_command("AI.TENSORSET", "m%d" % i, "UINT8", mb, "BLOB", blob)
    for i in range(50, 60):
        r.execute_command("AI.TENSORSET", "m%d" % i, "UINT8", 1024, mb // 1024)  # zero-filled
    full = used_memory(r)
    assert full - base >= 60 * mb
    assert r.delete(*["m%d" % i for i in range(30)]) == 30
    assert r.unlink(*["m%d" % i for i in range(30, 60)]) == 30
    wait_for(lambda: int(info_field(r, "memory", "lazyfree_pending_objects")) == 0, "lazy free")
    after = used_memory(r)
    assert after - base < 4 * mb, (base, full, after)


def test_keyspace_notification(engine):
    r = engine.client()
    assert r.config_set("notify-keyspace-events", "KEA")
    p = engine.client().pubsub()
    p.psubscribe("__keyevent@0__:ai.tensorset", "__keyspace@0__:nk")
    wait_for(lambda: p.get_message(timeout=0.1) is not None, "subscription")
    wait_for(lambda: p.get_message(timeout=0.1) is not None, "subscription")
    r.execute_command("AI.TENSORSET", "nk", "FLOAT", 1, "VALUES", 1)
    # a failed TENSORSET publishes nothing
    with pytest.raises(redis.ResponseError, match="wrong number of values"):
        r.execute_command("AI.TENSORSET", "bad", "FLOAT", 2, "VALUES", 1)
    r.execute_command("AI.TENSORSET", "nk2", "INT8", 1)
    got = []
    wait_for(lambda: (lambda m: m and got.append((m["channel"], m["data"])) and False)(
        p.get_message(timeout=0.1)) or len(got) >= 3, "notifications")
    assert (b"__keyevent@0__:ai.tensorset", b"nk") in got
    assert (b"__keyspace@0__:nk", b"ai.tensorset") in got
    assert (b"__keyevent@0__:ai.tensorset", b"nk2") in got
    assert all(data != b"bad" for _, data in got)
    p.close()


def test_info_ai_fields(r):
    fields = {k: str(v) for k, v in r.info("ai").items()}
    assert re.fullmatch(r"\d+\.\d+\.\d+", fields["ai_RedisAI_version"])
    assert tuple(map(int, fields["ai_RedisAI_version"].split("."))) >= (1, 2, 7)
    assert fields["ai_low_level_API_version"] == "1"
    assert fields["ai_rdb_version"] == "4"
    assert "ai_git_sha" in fields
    assert fields["ai_threads_per_queue"] == "1"
    assert fields["ai_inter_op_parallelism"] == "0"
    assert fields["ai_intra_op_parallelism"] == "0"
    assert fields["ai_model_execution_timeout"] == "5000"
    assert fields["ai_backend_memory_limit"] == "0"
    # the same section is part of INFO modules
    assert str(r.info("modules")["ai_rdb_version"]) == "4"
    names = [m[b"name"] if isinstance(m, dict) else m for m in r.module_list()]
    assert b"ai" in names
