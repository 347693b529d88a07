"""The tensor part of the shared C API, driven by a consumer module."""
import os

import pytest
import redis

from support.server import BUILD, ENGINE

LLAPI = os.path.join(BUILD, "tests", "llapi_test.so")


@pytest.fixture
def srv(server_factory):
    return server_factory(modules=[(ENGINE, []), (LLAPI, [])])


def test_binds_every_core_entry(srv):
    assert srv.client().execute_command("LLAPI.BIND") == 25


def test_tensor_lifecycle_through_the_api(srv):
    assert srv.client().execute_command("LLAPI.TENSOR_LIFECYCLE") == b"OK"


def test_tensor_made_by_the_api_is_a_normal_key(srv):
    r = srv.client()
    assert r.execute_command("LLAPI.STORE", "k") == b"OK"
    assert r.execute_command("AI.TENSORGET", "k", "VALUES") == [1, 2, 3, 4]
    r.execute_command("AI.TENSORSET", "f", "FLOAT", 2, "VALUES", 1.5, 2)
    assert r.execute_command("LLAPI.READ", "f") == [b"1.5", b"2"]


def test_consumer_loaded_first_binds_lazily(server_factory):
    srv = server_factory(modules=[(LLAPI, []), (ENGINE, [])])
    assert srv.client().execute_command("LLAPI.BIND") == 25


def test_consumer_without_engine_gets_an_error(server_factory):
    srv = server_factory(modules=[(LLAPI, [])])
    with pytest.raises(redis.ResponseError, match="shared API not available"):
        srv.client().execute_command("LLAPI.BIND")
