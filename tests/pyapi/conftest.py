"""Fixtures for the redisAI Python API tests (helpers: support/flows.py)."""
import pytest

from support.flows import ENGINE, host_module, register_ev


@pytest.fixture
def start_ai(server_factory):
    """start_ai(order=('host','engine'), mode='async', **kw) -> (server, client)
    with the `ev` flow registered."""
    def start(order=("host", "engine"), mode="async", **kw):
        mods = [host_module() if m == "host" else (ENGINE, []) for m in order]
        srv = server_factory(modules=mods, **kw)
        c = srv.client(protocol=2)
        register_ev(c, mode)
        return srv, c
    return start


@pytest.fixture
def ai(start_ai):
    return start_ai()
