"""export methods provide by redisAI."""
# `import redisAI` inside a flow: this shim re-exports the `redisai` package
# (installed next to it by setup.py).
from redisai import *  # noqa: F401,F403
from redisai import __all__  # noqa: F401
