"""Installs the `redisAI` Python API (package `redisai` + the `redisAI` shim).

The C core is built by build_ffi.py (cffi, API mode).  `make` runs
`python -m pip install --no-deps --no-build-isolation -e .` into the venv, so
the embedded interpreter of the host finds `redisAI` on its sys.path."""
from setuptools import setup

setup(
    name="redisai-ext-pyapi",
    version="1.3.0",
    description="redisAI: the RedisGears 1.2 compatible Python API to the RedisAI engine",
    packages=["redisai"],
    py_modules=["redisAI"],
    cffi_modules=["build_ffi.py:ffibuilder"],
    install_requires=["cffi>=1.15"],
    python_requires=">=3.9",
    zip_safe=False,
)
