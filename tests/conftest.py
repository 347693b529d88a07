import os

import pytest

from support.server import BUILD, ENGINE, RedisServer


# What a full build makes.  Locally, tests of a part that is not built skip;
# in CI (CI=true) a missing part fails the run instead of leaving it green.
FULL_BUILD = [ENGINE, os.path.join(BUILD, "redisgears_py.so"), os.path.join(BUILD, "tests", "llapi_test.so")] + [
    os.path.join(BUILD, "backends", "redisai_%s" % b, "redisai_%s.so" % b)
    for b in ("onnxruntime", "torch", "tensorflow")]


def pytest_configure(config):
    if not os.path.exists(ENGINE):
        raise pytest.UsageError("build/redisai.so is missing: run ./scripts/setup.sh (or make)")
    missing = [p for p in FULL_BUILD if not os.path.exists(p)]
    if missing and os.environ.get("CI"):
        raise pytest.UsageError("CI needs a full build; missing: %s" % ", ".join(missing))


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
