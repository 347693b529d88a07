import os

import pytest

from support.server import ENGINE, RedisServer


def pytest_configure(config):
    if not os.path.exists(ENGINE):
        raise pytest.UsageError("build/redisai.so is missing: run ./scripts/setup.sh (or make)")


@pytest.fixture
def server_factory():
    """Starts servers on demand; stops each one by PID at the end of the test."""
    started = []

    def start(modules=((ENGINE, []),), **kw):
        srv = RedisServer(modules=modules, **kw).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def engine(server_factory):
    """A server with the engine loaded."""
    return server_factory()


@pytest.fixture
def r(engine):
    """A RESP2 client of `engine` (bytes replies)."""
    return engine.client(protocol=2)
