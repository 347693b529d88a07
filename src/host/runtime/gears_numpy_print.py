"""gears_numpy_print -- numpy 1.x's text form inside flows (the module
argument NUMPY_LEGACY_PRINT, 1 by default).  numpy 2 prints
str([np.float32(1.5)]) as '[np.float32(1.5)]'; flows written for RedisGears
store such text in streams and hashes, and their consumers expect '[1.5]'.
numpy is imported by flows if at all, so the setting waits for its first
import; it then holds in every thread."""
import importlib.abc
import importlib.util
import sys

import redisgears

LEGACY = "1.25"  # the last 1.x form numpy 2 keeps


def _apply(np):
    if int(np.__version__.split(".")[0]) < 2:
        return  # it prints that way already
    try:
        np.set_printoptions(legacy=LEGACY)
    except Exception as e:
        redisgears.log("NUMPY_LEGACY_PRINT: numpy %s refused legacy=%r: %s" % (np.__version__, LEGACY, e),
                       level="warning")
        return
    # numpy keeps its print options in a context variable: a thread started
    # later, or a fresh context, begins with its default, so the default
    # takes the setting too.
    options = sys.modules.get("numpy._core.printoptions")
    default = getattr(options, "default_format_options_dict", None)
    if isinstance(default, dict):
        default.update(options.format_options.get())


class _OnNumpyImport(importlib.abc.MetaPathFinder):
    """Finds numpy as the other finders do, and applies the setting once
    its module has run."""

    def find_spec(self, name, path, target=None):
        if name != "numpy":
            return None
        try:
            sys.meta_path.remove(self)  # once: the real finders take it from here
        except ValueError:
            return None
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_apply(module):
            exec_module(module)
            _apply(module)
        spec.loader.exec_module = exec_and_apply
        return spec


def install(module_args):
    """Applies the setting now or on numpy's first import, unless the module
    arguments say NUMPY_LEGACY_PRINT 0."""
    if {name.upper(): value for name, value in module_args}.get("NUMPY_LEGACY_PRINT", "1") != "1":
        return
    if "numpy" in sys.modules:
        _apply(sys.modules["numpy"])
    else:
        sys.meta_path.insert(0, _OnNumpyImport())
