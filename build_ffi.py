"""cffi build script (API mode) for the C core of the `redisAI` Python API.

Compiles src/redisai_ext.c and src/redisai_ext/*.c into the extension module
``redisai_ext._redisai_ext`` (the package in redisai/, see setup.py).  The C surface Python sees is src/redisai_ext/cdef.h
(shared with the C sources, so the two cannot drift).

    python build_ffi.py        # builds redisai/_redisai_ext*.so in place
    python build_ffi.py TMPDIR OUTDIR   # builds in TMPDIR, copies to OUTDIR

With SANITIZE=address (or undefined) in the environment it is compiled
instrumented (make SANITIZE=..., see the Makefile).

setup.py uses ``ffibuilder`` through ``cffi_modules``.
"""
import glob
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "src")
CDEF_H = os.path.join(HERE, "src", "redisai_ext", "cdef.h")


def _cdef_text():
    with open(CDEF_H) as f:
        # cffi's parser takes declarations only: drop include guards/includes.
        return "".join(line for line in f if not line.lstrip().startswith("#"))


SANITIZE = os.environ.get("SANITIZE", "")
if SANITIZE:
    _opt = ["-O1", "-g", "-fsanitize=" + SANITIZE, "-fno-omit-frame-pointer"]
    _link = ["-fsanitize=" + SANITIZE]
else:
    _opt, _link = ["-O2"], []

ffibuilder = FFI()
ffibuilder.cdef(_cdef_text())
# Called from C on engine worker threads (ext.h); "+C" lets runners.c call it.
ffibuilder.cdef('extern "Python+C" void rx_run_done(void *handle, rx_result *res);')
ffibuilder.set_source(
    "redisai_ext._redisai_ext",
    '#include "redisai_ext/ext.h"\n',
    # Absolute paths: ffibuilder.compile() builds from inside its tmpdir.
    sources=[os.path.join(SRC, "redisai_ext.c")]
    + sorted(glob.glob(os.path.join(SRC, "redisai_ext", "*.c"))),
    include_dirs=[SRC],
    extra_compile_args=["-std=gnu11"] + _opt + ["-Wall", "-Wextra", "-Werror",
                                                "-Wno-unused-parameter", "-fvisibility=hidden"],
    extra_link_args=_link,
    libraries=["pthread"],
)

if __name__ == "__main__":
    import shutil
    import sys
    os.chdir(HERE)
    tmpdir, outdir = (sys.argv[1:3] if len(sys.argv) == 3
                      else (os.path.join("build", "redisai_ext"), "redisai"))
    ffibuilder.compile(tmpdir=tmpdir, verbose=False)
    # compile() writes the module under tmpdir/redisai_ext/; install it in outdir.
    for so in glob.glob(os.path.join(tmpdir, "redisai_ext", "_redisai_ext*.so")):
        shutil.copy2(so, os.path.join(outdir, os.path.basename(so)))
