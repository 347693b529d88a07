"""Fixtures for the Python host tests: a real redis-server with the host
(build/redisgears_py.so) and the engine, and a client that decodes replies."""
import pytest

from support.flows import ENGINE, host_module


@pytest.fixture
def start_host(server_factory):
    """start_host(order=('host', 'engine'), host_args=(), **kw) -> (server, client)."""
    def start(order=("host", "engine"), host_args=(), **kw):
        mods = []
        for m in order:
            if m == "host":
                path, args = host_module()
                mods.append((path, list(args) + list(host_args)))
            else:
                mods.append((ENGINE, []))
        srv = server_factory(modules=mods, **kw)
        return srv, srv.client(decode_responses=True)
    return start


@pytest.fixture
def host(start_host):
    return start_host()

