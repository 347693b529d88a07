/* gears_module.c -- the built-in module `redisgears`: executeCommand, log,
 * GearsError, _host_api_address, and the private hooks the runtime uses to
 * register triggers, queue continuations and complete waiting clients. */
#define PY_SSIZE_T_CLEAN /* Py_ssize_t lengths for "s#" formats */
#include <Python.h>
#include <stdlib.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "host.h"

static PyObject *GearsError;

/* ---- Python objects <-> C replies ---- */

static PyObject *creply_to_py(const CReply *r) {
    switch (r ? r->type : CR_NULL) {
    case CR_STRING:
    case CR_ERROR: {
        PyObject *s = PyUnicode_DecodeUTF8(r->str, (Py_ssize_t)r->len, NULL);
        if (s) return s;
        PyErr_Clear(); /* not UTF-8: hand the bytes over as they are */
        return PyByteArray_FromStringAndSize(r->str, (Py_ssize_t)r->len);
    }
    case CR_INTEGER: return PyLong_FromLongLong(r->integer);
    case CR_DOUBLE: return PyFloat_FromDouble(r->dbl);
    case CR_ARRAY: {
        PyObject *l = PyList_New((Py_ssize_t)r->len);
        for (size_t i = 0; l && i < r->len; i++) {
            PyObject *e = creply_to_py(r->elems[i]);
            if (!e) {
                Py_CLEAR(l);
                break;
            }
            PyList_SET_ITEM(l, (Py_ssize_t)i, e);
        }
        return l;
    }
    default: Py_RETURN_NONE;
    }
}

/* The UTF-8 bytes of str(o) (or of o itself for bytes/bytearray), as a new
 * bytes object.  surrogateescape round-trips bytes decoded that way. */
static PyObject *py_to_bytes(PyObject *o) {
    if (PyBytes_Check(o)) return Py_NewRef(o);
    if (PyByteArray_Check(o))
        return PyBytes_FromStringAndSize(PyByteArray_AS_STRING(o), PyByteArray_GET_SIZE(o));
    PyObject *s = PyUnicode_Check(o) ? Py_NewRef(o) : PyObject_Str(o);
    if (!s) return NULL;
    PyObject *b = PyUnicode_AsEncodedString(s, "utf-8", "surrogateescape");
    Py_DECREF(s);
    return b;
}

static CReply *py_to_error(PyObject *o) {
    PyObject *b = py_to_bytes(o);
    if (!b) {
        PyErr_Clear();
        return CReply_Error("ERR unprintable error");
    }
    CReply *r = CReply_Error(PyBytes_AS_STRING(b));
    Py_DECREF(b);
    return r;
}

/* `errors`: a GearsError in `o` is an error element (the tooling commands'
 * replies), else its str() as any other object. */
static CReply *py_to_creply(PyObject *o, int depth, int errors) {
    if (o == Py_None) return CReply_Null();
    if (errors && PyObject_IsInstance(o, GearsError) == 1) return py_to_error(o);
    if (PyLong_CheckExact(o)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (!overflow && !(v == -1 && PyErr_Occurred())) return CReply_Integer(v);
        PyErr_Clear();
    }
    if ((PyList_Check(o) || PyTuple_Check(o)) && depth < 32) {
        PyObject *seq = PySequence_Fast(o, "");
        if (!seq) return NULL;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        CReply *r = CReply_Array((size_t)n);
        for (Py_ssize_t i = 0; i < n; i++) {
            r->elems[i] = py_to_creply(PySequence_Fast_GET_ITEM(seq, i), depth + 1, errors);
            if (!r->elems[i]) {
                Py_DECREF(seq);
                CReply_Free(r);
                return NULL;
            }
        }
        Py_DECREF(seq);
        return r;
    }
    PyObject *b = py_to_bytes(o);
    if (!b) return NULL;
    CReply *r = CReply_String(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return r;
}

CReply *GearsModule_ToReply(PyObject *o) { return py_to_creply(o, 0, 1); }

/* ---- executeCommand ---- */

/* Commands that only make sense on a client connection.  Through a module
 * call WAIT and SYNC trip Redis assertions, PSYNC crashes it, and CLIENT
 * KILL can free the client whose command is running the flow; a transaction
 * started this way would not hold the commands that follow; HELLO 3 gave a
 * list of "could not be called" strings (the call's reply is read as RESP2).
 * HELLO alone (server information) and anything else runs, as in the
 * original (CONFIG GET, FLUSHALL, SELECT...). */
static int refused_from_flows(const char *cmd, const char *arg1) {
    static const char *const refused[] = {"WAIT", "WAITAOF", "SYNC", "PSYNC", "REPLCONF", "MULTI", "EXEC",
                                          "DISCARD", "WATCH", "UNWATCH", "RESET", "QUIT"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++)
        if (strcasecmp(cmd, refused[i]) == 0) return 1;
    if (strcasecmp(cmd, "HELLO") == 0) return *arg1 != '\0'; /* protocol, AUTH, SETNAME: the connection's */
    return strcasecmp(cmd, "CLIENT") == 0 && strcasecmp(arg1, "KILL") == 0;
}

#define READONLY_REPLICA (REDISMODULE_CTX_FLAGS_SLAVE | REDISMODULE_CTX_FLAGS_READONLY)

/* Calls whose writes RedisModule_Call's "W" does not see. */
static int is_script_call(const char *cmd) {
    return !strcasecmp(cmd, "EVAL") || !strcasecmp(cmd, "EVALSHA") || !strcasecmp(cmd, "FCALL");
}

/* args[skip] is the command, the rest its arguments; db >= 0 runs it there
 * (a hook's call_next in the caller's database), else in the current one.
 * It runs with the rights of the flow's user, and a deny-oom command is
 * refused over maxmemory, as redis.call does in Lua. */
static PyObject *execute_command(PyObject *args, Py_ssize_t skip, int db) {
    Py_ssize_t n = PyTuple_GET_SIZE(args) - skip;
    if (n < 1 || !PyUnicode_Check(PyTuple_GET_ITEM(args, skip))) {
        PyErr_SetString(GearsError, "the given command must be a string");
        return NULL;
    }
    /* Copies: the GIL is released below and bytearrays may change meanwhile. */
    PyObject *bufs = PyList_New(n);
    if (!bufs) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = py_to_bytes(PyTuple_GET_ITEM(args, skip + i));
        if (!b) {
            Py_DECREF(bufs);
            return NULL;
        }
        PyList_SET_ITEM(bufs, i, b);
    }
    const char *cmd = PyBytes_AS_STRING(PyList_GET_ITEM(bufs, 0));
    size_t nargs = (size_t)n - 1;
    if (refused_from_flows(cmd, nargs ? PyBytes_AS_STRING(PyList_GET_ITEM(bufs, 1)) : "")) {
        PyErr_Format(GearsError, "ERR command '%.64s' can not be called from a flow", cmd);
        Py_DECREF(bufs);
        return NULL;
    }
    const char **ptrs = malloc(((size_t)n) * sizeof(*ptrs));
    size_t *lens = malloc(((size_t)n) * sizeof(*lens));
    RedisModuleString **argv = malloc(((size_t)n) * sizeof(*argv)); /* the command first */
    if (!ptrs || !lens || !argv) {
        free(ptrs), free(lens), free(argv);
        Py_DECREF(bufs);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *b = PyList_GET_ITEM(bufs, i);
        ptrs[i] = PyBytes_AS_STRING(b);
        lens[i] = (size_t)PyBytes_GET_SIZE(b);
    }
    FlowUser *user = FlowUser_Current();
    int acl_call = !strcasecmp(cmd, "ACL"); /* our own calls pass no command filter */
    CReply *cr;
    int skipped = 0, script = is_script_call(cmd);
    Py_BEGIN_ALLOW_THREADS /* never wait for the Redis lock holding the GIL */
    RedisModuleCtx *ctx = Host_Lock();
    for (Py_ssize_t i = 0; i < n; i++) argv[i] = RedisModule_CreateString(NULL, ptrs[i], lens[i]);
    int was_db = RedisModule_GetSelectedDb(ctx), switch_db = db >= 0 && db != was_db;
    if (switch_db) RedisModule_SelectDb(ctx, db);
    /* "!": replicated, as in the original.  "W" (no write) while a saved
     * script runs again (its writes' effects came with the data), and on a
     * read-only replica (a hooked read runs flows there: they may not
     * write, as its clients may not); else "M": no deny-oom command over
     * maxmemory. */
    int replaying = ScriptStore_Replaying;
    int no_writes = replaying || (RedisModule_GetContextFlags(ctx) & READONLY_REPLICA) == READONLY_REPLICA;
    const char *denied = user ? FlowUser_DenyCommand(user, ctx, argv, (int)n) : NULL;
    RedisModuleCallReply *reply = NULL;
    int refused = 1;
    if (!denied && !(replaying && script)) { /* "W" does not see what a Lua or function call writes */
        reply = RedisModule_Call(ctx, cmd, no_writes ? "W!v" : "!vM", argv + 1, nargs);
        refused = no_writes && !reply && errno == ENOSPC;
    }
    if (acl_call) FlowUser_AclChanged(); /* after it: cached users may be gone */
    skipped = refused && replaying && !denied;
    cr = denied    ? CReply_Error(denied)
         : skipped ? CReply_Null()
         : refused ? CReply_Error("READONLY You can't write against a read only replica.")
                   : CReply_FromCall(reply);
    if (switch_db) RedisModule_SelectDb(ctx, was_db);
    if (reply) RedisModule_FreeCallReply(reply);
    for (Py_ssize_t i = 0; i < n; i++) RedisModule_FreeString(NULL, argv[i]);
    Host_Unlock();
    Py_END_ALLOW_THREADS
    FlowUser_Release(user);
    free(argv);
    free(lens);
    free(ptrs);
    if (skipped)
        RedisModule_Log(NULL, "verbose", "rg: %.64s of a saved script's top-level code not run again (its effect "
                        "is in the data loaded)", cmd);
    Py_DECREF(bufs);
    if (cr->type == CR_ERROR) {
        PyErr_SetString(GearsError, cr->str);
        CReply_Free(cr);
        return NULL;
    }
    PyObject *res = creply_to_py(cr);
    CReply_Free(cr);
    return res;
}

static PyObject *gears_execute(PyObject *self, PyObject *args) {
    (void)self;
    return execute_command(args, 0, -1);
}

/* _execute_in_db(db, cmd, *args) */
static PyObject *gears_execute_in_db(PyObject *self, PyObject *args) {
    (void)self;
    long db = PyTuple_GET_SIZE(args) > 0 ? PyLong_AsLong(PyTuple_GET_ITEM(args, 0)) : -1;
    if (db < 0 || db > INT_MAX) {
        if (!PyErr_Occurred()) PyErr_SetString(GearsError, "a database number is needed");
        return NULL;
    }
    return execute_command(args, 1, (int)db);
}

/* ---- log ---- */

static PyObject *gears_log(PyObject *self, PyObject *args, PyObject *kw) {
    (void)self;
    static char *kwlist[] = {"msg", "level", NULL};
    PyObject *msg;
    const char *level = "notice";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|s", kwlist, &msg, &level)) return NULL;
    if (strcmp(level, "debug") && strcmp(level, "verbose") && strcmp(level, "notice") &&
        strcmp(level, "warning")) {
        PyErr_SetString(GearsError,
                        "Log level should be one of the following : debug,verbose,notice,warning");
        return NULL;
    }
    PyObject *s = PyObject_Str(msg);
    if (!s) return NULL;
    PyObject *line = PyUnicode_FromFormat("GEARS: %U", s);
    Py_DECREF(s);
    PyObject *b = line ? py_to_bytes(line) : NULL;
    Py_XDECREF(line);
    if (!b) return NULL;
    Host_Log(level, PyBytes_AS_STRING(b));
    Py_DECREF(b);
    Py_RETURN_NONE;
}

static PyObject *gears_host_api_address(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromVoidPtr((void *)Host_APIAddress());
}

/* ---- atomic(): the Redis lock, taken without the GIL ---- */

static PyObject *gears_lock(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    Py_BEGIN_ALLOW_THREADS
    Host_Lock();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyObject *gears_unlock(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    Host_Unlock();
    Py_RETURN_NONE;
}

/* ---- registrations ---- */

static int mode_of(const char *name) {
    int m = Mode_Parse(name);
    if (m < 0) PyErr_SetString(GearsError, "unknown execution mode");
    return m;
}

/* Puts a new entry (NULL: out of memory) in the registry, or raises. */
static PyObject *add_to_registry(Reg *r) {
    if (!r) return PyErr_NoMemory();
    const char *err = NULL;
    if (Registry_Add(r, &err) != REDISMODULE_OK) {
        Reg_Free(r);
        PyErr_SetString(GearsError, err);
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _register_trigger(id, trigger, mode, handler, desc, on_loop) */
static PyObject *gears_register_trigger(PyObject *self, PyObject *args) {
    (void)self;
    const char *id, *trigger, *mode, *desc = NULL;
    PyObject *handler;
    int on_loop = 0, m;
    if (!PyArg_ParseTuple(args, "sssO|zp", &id, &trigger, &mode, &handler, &desc, &on_loop) ||
        (m = mode_of(mode)) < 0)
        return NULL;
    return add_to_registry(Reg_New(READER_COMMAND, id, trigger, desc, m, on_loop, handler));
}

/* _register_hook(id, command, keyprefix, (arity, first, last, step, write), mode, handler, desc,
 * on_loop) */
static PyObject *gears_register_hook(PyObject *self, PyObject *args) {
    (void)self;
    const char *id, *command, *keyprefix, *mode, *desc = NULL;
    HookSpec k;
    int on_loop = 0, m;
    PyObject *handler;
    if (!PyArg_ParseTuple(args, "ssz(iiiip)sO|zp", &id, &command, &keyprefix, &k.arity, &k.first_key,
                          &k.last_key, &k.key_step, &k.write, &mode, &handler, &desc, &on_loop) ||
        (m = mode_of(mode)) < 0)
        return NULL;
    return add_to_registry(Reg_NewHook(id, command, keyprefix, k, desc, m, on_loop, handler));
}

/* _register_keys(id, prefix, mode, handler, desc, on_loop, eventTypes, keyTypes) */
static PyObject *gears_register_keys(PyObject *self, PyObject *args) {
    (void)self;
    return KeyEvents_Register(args);
}

/* _store_script(id, desc, code, dropped, user, reqs) / _drop_script(id): the
 * script_store.c entries of a session (main thread); `dropped` lists the
 * registrations RG.UNREGISTER took ("1,3": their order in the script),
 * `user` the ACL user who sent it (None: full rights). */
static PyObject *gears_store_script(PyObject *self, PyObject *args) {
    (void)self;
    const char *id, *desc, *code, *dropped, *user, *reqs;
    Py_ssize_t len, reqs_len;
    if (!PyArg_ParseTuple(args, "szs#szy#", &id, &desc, &code, &len, &dropped, &user, &reqs, &reqs_len))
        return NULL;
    if (ScriptStore_Put(id, desc, code, (size_t)len, dropped, user, reqs, (size_t)reqs_len) != REDISMODULE_OK)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* _store_state(id, state): the readers' state of a filed session, kept
 * with its script (called under the Redis lock). */
static PyObject *gears_store_state(PyObject *self, PyObject *args) {
    (void)self;
    const char *id, *state;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "ss#", &id, &state, &len)) return NULL;
    if (ScriptStore_SetState(id, state, (size_t)len) != REDISMODULE_OK) Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

static PyObject *gears_drop_script(PyObject *self, PyObject *args) {
    (void)self;
    const char *id;
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    ScriptStore_Drop(id);
    Py_RETURN_NONE;
}

/* _unregister(id): True if `id` was registered (executions still running
 * keep their own reference).  Used to undo a failed RG.PYEXECUTE. */
static PyObject *gears_unregister(PyObject *self, PyObject *args) {
    (void)self;
    const char *id;
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    Reg *reg = Registry_Remove(id, strlen(id));
    if (!reg) Py_RETURN_FALSE;
    Registry_Release(reg);
    Py_RETURN_TRUE;
}

static PyObject *gears_registry(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return Registry_List();
}

static PyObject *gears_is_registered(PyObject *self, PyObject *args) {
    (void)self;
    const char *id;
    if (!PyArg_ParseTuple(args, "s", &id)) return NULL;
    return PyBool_FromLong(Registry_Contains(id));
}

/* ---- calls queued for the pool or the loop thread ---- */

typedef struct {
    PoolJob base;
    PyObject *fn, *args;
} CallJob;

static void call_job_run(PoolJob *job) {
    CallJob *j = (CallJob *)job;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *r = PyObject_Call(j->fn, j->args, NULL);
    if (!r) PyHost_LogError("execution continuation");
    Py_XDECREF(r);
    Py_DECREF(j->fn);
    Py_DECREF(j->args);
    PyGILState_Release(g);
    free(j);
}

/* Queues fn(*args) with `submit`.  The GIL stays held throughout: a queue
 * that wakes its thread while we hold it costs one GIL hand-off, releasing
 * it around the wake-up would cost two. */
static PyObject *queue_call(PyObject *args, int (*submit)(PoolJob *)) {
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1 || !PyCallable_Check(PyTuple_GET_ITEM(args, 0))) {
        PyErr_SetString(PyExc_TypeError, "expected (fn, *args)");
        return NULL;
    }
    CallJob *j = calloc(1, sizeof(*j));
    if (!j) return PyErr_NoMemory();
    j->base.run = call_job_run;
    j->fn = Py_NewRef(PyTuple_GET_ITEM(args, 0));
    j->args = PyTuple_GetSlice(args, 1, n);
    if (!j->args || submit(&j->base) != REDISMODULE_OK) {
        Py_DECREF(j->fn);
        Py_XDECREF(j->args);
        free(j);
        if (!PyErr_Occurred()) PyErr_SetString(GearsError, "the host is shutting down");
        return NULL;
    }
    Py_RETURN_NONE;
}

/* _submit(fn, *args): fn(*args) on a pool thread. */
static PyObject *gears_submit(PyObject *self, PyObject *args) {
    (void)self;
    return queue_call(args, Pool_Submit);
}

/* _loop_call(fn, *args): fn(*args) on the loop thread, from any thread;
 * cheaper than loop.call_soon_threadsafe, whose socket write lets the GIL
 * go and lets the woken loop take it in the middle of the caller's work. */
static PyObject *gears_loop_call(PyObject *self, PyObject *args) {
    (void)self;
    return queue_call(args, LoopQ_Submit);
}

/* _main_call(fn, *args): fn(*args) on Redis's main thread, from any
 * thread (mainq.c); the main thread holds the Redis lock while it runs. */
static PyObject *gears_main_call(PyObject *self, PyObject *args) {
    (void)self;
    return queue_call(args, MainQ_Submit);
}

/* ---- the loop thread's job queue (loopq.c) ---- */

static PyObject *gears_loop_fd(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    return PyLong_FromLong(LoopQ_Fd());
}

static PyObject *gears_loop_drain(PyObject *self, PyObject *unused) {
    (void)self;
    (void)unused;
    LoopQ_Drain();
    Py_RETURN_NONE;
}

/* ---- waiters ---- */

#define WAITER_CAPSULE "rg.waiter"

static void waiter_capsule_free(PyObject *cap) {
    Waiter *w = PyCapsule_GetPointer(cap, WAITER_CAPSULE);
    if (!w) return;
    /* An execution dropped without completing must not leave its client
     * blocked forever; if it did complete, this is a no-op. */
    Waiter_Complete(w, CReply_Error("ERR execution ended without a result"));
    Waiter_Release(w);
}

PyObject *GearsModule_ReplyToPy(const CReply *r) { return creply_to_py(r); }

PyObject *Waiter_Capsule(Waiter *w) {
    Waiter_Retain(w);
    PyObject *cap = PyCapsule_New(w, WAITER_CAPSULE, waiter_capsule_free);
    if (!cap) Waiter_Release(w);
    return cap;
}

/* _complete(waiter, results, errors, kind): kind 0 replies like RG.TRIGGER
 * (records, or the first error), kind 1 like RG.PYEXECUTE's run(), kind 2
 * like a hooked command (the first error, or results[0] as it is). */
static PyObject *gears_complete(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *cap, *results, *errors;
    int kind;
    if (!PyArg_ParseTuple(args, "OO!O!i", &cap, &PyList_Type, &results, &PyList_Type, &errors,
                          &kind))
        return NULL;
    Waiter *w = PyCapsule_GetPointer(cap, WAITER_CAPSULE);
    if (!w) return NULL;
    CReply *r;
    if (kind != 1 && PyList_GET_SIZE(errors) > 0) {
        r = py_to_error(PyList_GET_ITEM(errors, 0));
    } else if (kind == 0) {
        r = py_to_creply(results, 0, 0);
    } else if (kind == 2) {
        r = PyList_GET_SIZE(results) == 1 ? py_to_creply(PyList_GET_ITEM(results, 0), 0, 0) : NULL;
    } else {
        r = CReply_Array(2);
        r->elems[0] = py_to_creply(results, 0, 0);
        r->elems[1] = CReply_Array((size_t)PyList_GET_SIZE(errors));
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(errors); i++)
            r->elems[1]->elems[i] = py_to_error(PyList_GET_ITEM(errors, i));
        for (size_t i = 0; i < r->elems[1]->len; i++) r->elems[1]->elems[i]->type = CR_STRING;
        if (!r->elems[0]) {
            CReply_Free(r);
            r = NULL;
        }
    }
    if (!r) {
        PyHost_LogError("building a reply");
        r = CReply_Error("ERR could not convert the execution results");
    }
    if (Waiter_Complete(w, r) != REDISMODULE_OK) Py_RETURN_FALSE;
    Py_RETURN_TRUE;
}

static PyMethodDef methods[] = {
    {"executeCommand", gears_execute, METH_VARARGS, "executeCommand(cmd, *args)"},
    {"execute", gears_execute, METH_VARARGS, "execute(cmd, *args)"},
    {"_execute_in_db", gears_execute_in_db, METH_VARARGS, NULL},
    {"log", (PyCFunction)(void (*)(void))gears_log, METH_VARARGS | METH_KEYWORDS,
     "log(msg, level='notice')"},
    {"_host_api_address", gears_host_api_address, METH_NOARGS, "address of the RG_HostAPI"},
    {"_lock", gears_lock, METH_NOARGS, NULL},
    {"_unlock", gears_unlock, METH_NOARGS, NULL},
    {"_register_trigger", gears_register_trigger, METH_VARARGS, NULL},
    {"_register_hook", gears_register_hook, METH_VARARGS, NULL},
    {"_register_keys", gears_register_keys, METH_VARARGS, NULL},
    {"_unregister", gears_unregister, METH_VARARGS, NULL},
    {"_store_script", gears_store_script, METH_VARARGS, NULL},
    {"_drop_script", gears_drop_script, METH_VARARGS, NULL},
    {"_store_state", gears_store_state, METH_VARARGS, NULL},
    {"_is_registered", gears_is_registered, METH_VARARGS, NULL},
    {"_registry", gears_registry, METH_NOARGS, NULL},
    {"_submit", gears_submit, METH_VARARGS, NULL},
    {"_loop_call", gears_loop_call, METH_VARARGS, NULL},
    {"_main_call", gears_main_call, METH_VARARGS, NULL},
    {"_loop_fd", gears_loop_fd, METH_NOARGS, NULL},
    {"_loop_drain", gears_loop_drain, METH_NOARGS, NULL},
    {"_complete", gears_complete, METH_VARARGS, NULL},
    {"_flow_user", FlowUserPy_New, METH_VARARGS, NULL},
    {"_user_name", FlowUserPy_Name, METH_O, NULL},
    {"_user_exists", FlowUserPy_Exists, METH_O, NULL},
    {"_current_user_address", FlowUserPy_CurrentAddress, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "redisgears", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

/* [(name, value)...]: the module arguments, for gears_config.py. */
static PyObject *module_args(void) {
    PyObject *list = PyList_New(0);
    for (int i = 0; list && i + 1 < host_config.nargs; i += 2) {
        PyObject *pair = Py_BuildValue("(ss)", host_config.args[i], host_config.args[i + 1]);
        if (!pair || PyList_Append(list, pair) < 0) Py_CLEAR(list);
        Py_XDECREF(pair);
    }
    return list;
}

PyObject *GearsModule_Init(void) {
    PyObject *m = PyModule_Create(&moddef);
    if (!m) return NULL;
    GearsError = PyErr_NewException("gears.error", NULL, NULL);
    PyObject *args = module_args();
    if (!GearsError || !args || FlowUserPy_Init(m) < 0 || PyModule_AddObjectRef(m, "GearsError", GearsError) < 0 ||
        PyModule_AddObjectRef(m, "_module_args", args) < 0 ||
        PyModule_AddIntConstant(m, "_threads", host_config.threads) < 0 ||
        PyModule_AddStringConstant(m, "_requirements_dir",
                                   host_config.requirements_dir ? host_config.requirements_dir : "") < 0 ||
        PyModule_AddStringConstant(m, "_requirements_index",
                                   host_config.requirements_index ? host_config.requirements_index : "") < 0) {
        Py_XDECREF(args);
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(args);
    return m;
}
