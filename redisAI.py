"""export methods provide by redisAI."""
# `import redisAI` inside a flow: this shim re-exports the package in redisai/,
# installed next to it by setup.py as `redisai_ext`.
from redisai_ext import *  # noqa: F401,F403
from redisai_ext import __all__  # noqa: F401
