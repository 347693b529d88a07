"""Installs the `redisAI` Python API: the `redisAI` shim flows import, and the
package behind it, imported as `redisai_ext` from the `redisai/` folder (the
PyPI client owns the import name `redisai`, so ours must not take it).

The C core is built by build_ffi.py (cffi, API mode); pyproject.toml declares
setuptools and cffi as build requirements.  `make` runs
`python -m pip install --no-deps --no-build-isolation -e .` into the venv, so
the embedded interpreter of the host finds `redisAI` on its sys.path."""
from setuptools import setup

setup(
    name="redisai-ext-pyapi",
    version="1.3.0",
    description="redisAI: the RedisGears 1.2 compatible Python API to the RedisAI engine",
    packages=["redisai_ext"],
    package_dir={"redisai_ext": "redisai"},
    py_modules=["redisAI"],
    cffi_modules=["build_ffi.py:ffibuilder"],
    install_requires=["cffi>=1.15"],
    python_requires=">=3.9",
    zip_safe=False,
)
