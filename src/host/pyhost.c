/* pyhost.c -- starts the embedded CPython (dependencies.md §6): libpython
 * promoted to the global namespace, an explicit home, no signal handlers,
 * the venv's site-packages and the runtime directory on sys.path, the GIL
 * released at the end. */
#include <Python.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "host.h"

#ifndef RG_LIBPYTHON
#define RG_LIBPYTHON "libpython3.11.so.1.0"
#endif

PyObject *rt_trigger, *rt_pyexecute, *rt_on_key, *rt_requirements, *rt_forget_session,
    *rt_results, *rt_keep_sessions, *rt_key_command_call, *rt_tool;

PyObject *PyHost_TakeError(void) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type) return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

CReply *PyHost_ErrorReply(void) {
    PyObject *exc = PyHost_TakeError();
    PyObject *s = exc ? PyObject_Str(exc) : NULL;
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    if (!msg) PyErr_Clear();
    CReply *r = CReply_Error(msg && *msg ? msg : "ERR the Python runtime failed");
    Py_XDECREF(s);
    Py_XDECREF(exc);
    return r;
}

void PyHost_LogError(const char *where) {
    PyObject *exc = PyHost_TakeError();
    if (!exc) return;
    PyObject *s = PyObject_Str(exc);
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    char buf[1024];
    snprintf(buf, sizeof(buf), "GEARS: %s: %s: %s", where, Py_TYPE(exc)->tp_name,
             msg ? msg : "<unprintable>");
    Host_Log("warning", buf);
    Py_XDECREF(s);
    Py_DECREF(exc);
    PyErr_Clear();
}

/* Runs once in a private dict: sys.path for the venv, extra paths and the
 * runtime, then imports the runtime. */
static const char *bootstrap_src =
    "import sys, site, os\n"
    "if venv_site and os.path.isdir(venv_site):\n"
    "    site.addsitedir(venv_site)\n"
    "for p in (python_path or '').split(':'):\n"
    "    if p: sys.path.append(p)\n"
    "sys.path.insert(0, runtime_dir)\n"
    "sys.argv = ['redis-server']\n"
    "import gears_runtime as rt\n";

static int set_str(PyObject *d, const char *k, const char *v) {
    PyObject *o = v ? PyUnicode_FromString(v) : Py_NewRef(Py_None);
    if (!o) return -1;
    int rc = PyDict_SetItemString(d, k, o);
    Py_DECREF(o);
    return rc;
}

static int run_bootstrap(void) {
    char venv_site[4096] = "";
    if (host_config.venv && *host_config.venv)
        snprintf(venv_site, sizeof(venv_site), "%s/lib/python%d.%d/site-packages",
                 host_config.venv, PY_MAJOR_VERSION, PY_MINOR_VERSION);
    PyObject *g = PyDict_New();
    if (!g) return -1;
    if (PyDict_SetItemString(g, "__builtins__", PyEval_GetBuiltins()) < 0 ||
        set_str(g, "venv_site", venv_site) < 0 ||
        set_str(g, "python_path", host_config.python_path) < 0 ||
        set_str(g, "runtime_dir", host_config.runtime_dir) < 0) {
        Py_DECREF(g);
        return -1;
    }
    PyObject *r = PyRun_String(bootstrap_src, Py_file_input, g, g);
    if (!r) {
        Py_DECREF(g);
        return -1;
    }
    Py_DECREF(r);
    PyObject *rt = PyDict_GetItemString(g, "rt"); /* borrowed */
    rt_trigger = rt ? PyObject_GetAttrString(rt, "_trigger") : NULL;
    rt_pyexecute = rt ? PyObject_GetAttrString(rt, "_pyexecute") : NULL;
    rt_on_key = rt ? PyObject_GetAttrString(rt, "_on_key") : NULL;
    rt_requirements = rt ? PyObject_GetAttrString(rt, "gears_requirements") : NULL;
    rt_forget_session = rt ? PyObject_GetAttrString(rt, "_forget_session") : NULL;
    rt_results = rt ? PyObject_GetAttrString(rt, "_results") : NULL;
    rt_keep_sessions = rt ? PyObject_GetAttrString(rt, "_keep_sessions") : NULL;
    rt_key_command_call = rt ? PyObject_GetAttrString(rt, "KeyCommandCall") : NULL;
    rt_tool = rt ? PyObject_GetAttrString(rt, "_tool") : NULL;
    Py_DECREF(g);
    return rt_trigger && rt_pyexecute && rt_on_key && rt_requirements && rt_forget_session &&
                   rt_results && rt_keep_sessions && rt_key_command_call && rt_tool ? 0 : -1;
}

/* Checks the directories before Python starts: a failed Py_Initialize
 * leaves the interpreter half set up for the life of the process, so a bad
 * path must be refused while a later MODULE LOAD can still succeed. */
static int has(const char *dir, const char *rel, int want_dir) {
    char path[4096];
    struct stat st;
    if (snprintf(path, sizeof(path), "%s/%s", dir, rel) >= (int)sizeof(path)) return 0;
    if (stat(path, &st) != 0) return 0;
    return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

static const char *check_paths(void) {
    static char msg[4200];
    char rel[64];
    snprintf(rel, sizeof(rel), "lib/python%d.%d/os.py", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    if (!has(host_config.python_home, rel, 0)) {
        snprintf(msg, sizeof(msg), "PYTHON_HOME %s has no Python %d.%d standard library",
                 host_config.python_home, PY_MAJOR_VERSION, PY_MINOR_VERSION);
        return msg;
    }
    if (!has(host_config.runtime_dir, "gears_runtime.py", 0)) {
        snprintf(msg, sizeof(msg), "RUNTIME %s has no gears_runtime.py", host_config.runtime_dir);
        return msg;
    }
    snprintf(rel, sizeof(rel), "lib/python%d.%d/site-packages", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    if (host_config.venv && *host_config.venv && !has(host_config.venv, rel, 1)) {
        snprintf(msg, sizeof(msg), "VENV %s has no %s", host_config.venv, rel);
        return msg;
    }
    return NULL;
}

/* Once Python has started it holds pointers into this library (the
 * redisgears module, its threads), so the library must never be unmapped,
 * not even when OnLoad fails later and Redis dlcloses it. */
static void pin_self(void) {
    Dl_info info;
    if (dladdr((void *)pin_self, &info) && info.dli_fname)
        dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

int PyHost_Start(const char **err) {
    if ((*err = check_paths()) != NULL) return REDISMODULE_ERR;
    /* Redis dlopens modules RTLD_LOCAL; extension modules (math, numpy)
     * need the interpreter's symbols in the global namespace. */
    if (!dlopen(RG_LIBPYTHON, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL)) {
        *err = "could not promote libpython to RTLD_GLOBAL";
        return REDISMODULE_ERR;
    }
    if (Py_IsInitialized()) {
        *err = "a Python interpreter is already running in this process";
        return REDISMODULE_ERR;
    }
    if (PyImport_AppendInittab("redisgears", GearsModule_Init) == -1) {
        *err = "could not register the redisgears module";
        return REDISMODULE_ERR;
    }
    pin_self();
    /* numpy's OpenBLAS starts worker threads and joins them in a fork
     * handler; Redis forks for BGSAVE, AOF rewrite and full syncs, and a fork
     * while a flow is inside a BLAS call then deadlocks the server.  One BLAS
     * thread has nothing to join.  A value the user set is kept. */
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.site_import = 0; /* the venv's site-packages are added explicitly */
    config.parse_argv = 0;
    PyStatus st = PyConfig_SetBytesString(&config, &config.home, host_config.python_home);
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        *err = st.err_msg ? st.err_msg : "Python initialization failed";
        return REDISMODULE_ERR;
    }
    if (run_bootstrap() < 0) {
        PyHost_LogError("loading the runtime");
        PyEval_SaveThread();
        *err = "could not load the Gears runtime (see the log)";
        return REDISMODULE_ERR;
    }
    PyEval_SaveThread(); /* from now on every entry uses PyGILState_Ensure */
    return REDISMODULE_OK;
}
