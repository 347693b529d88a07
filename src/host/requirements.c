/* requirements.c -- RG.PYEXECUTE's REQUIREMENTS, RG.PYDUMPREQS,
 * RG.PYEXPORTREQ and RG.PYIMPORTREQ; gears_requirements.py does the work.
 *
 * pip takes seconds, so it never runs on the main thread: a pool thread
 * runs it (the GIL let go while it waits for the child) while the client
 * stays blocked; then the script runs on the main thread, as if it had just
 * been sent, and the client gets its reply.  It runs in a timer's callback
 * (a one-shot of 0 ms, set from a MainQ job): Redis 7.0 sends what a module
 * wrote or replicated there when the callback returns, where from a MainQ
 * job it would stay pending until the event loop sleeps, and an expiry
 * cycle in between fails an assertion. */
#define PY_SSIZE_T_CLEAN /* Py_ssize_t lengths for the "y#" format */
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* A new list of the arguments as bytes, or NULL with the error set. */
static PyObject *bytes_list(RedisModuleString **argv, int n) {
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        size_t len;
        const char *p = RedisModule_StringPtrLen(argv[i], &len);
        PyObject *b = PyBytes_FromStringAndSize(p, (Py_ssize_t)len);
        if (!b) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i, b);
    }
    return list;
}

/* ---- RG.PYEXECUTE ... REQUIREMENTS ---- */

typedef struct {
    PoolJob base;
    RedisModuleString **argv; /* copies: the command's own die with it */
    int argc, first, force, db;
    Waiter *waiter; /* the blocked client */
    FlowUser *user; /* its ACL user, for the script and its flows; NULL: full rights */
} InstallJob;

static void install_job_free(InstallJob *j) {
    for (int i = 0; j->argv && i < j->argc; i++)
        if (j->argv[i]) RedisModule_FreeString(NULL, j->argv[i]);
    free(j->argv);
    if (j->waiter) Waiter_Release(j->waiter);
    FlowUser_Release(j->user);
    free(j);
}

/* The timer's callback: the requirements are there; the script runs, in
 * the client's database (the timer's), for the client's user. */
static void run_script(RedisModuleCtx *ctx, void *job) {
    InstallJob *j = job;
    Commands_RunScript(ctx, j->argv, j->argc, j->waiter, j->user);
    j->user = NULL; /* RunScript took it */
    install_job_free(j);
}

/* Main thread (MainQ). */
static void set_timer(PoolJob *job) {
    InstallJob *j = (InstallJob *)job;
    RedisModuleCtx *ctx = RedisModule_GetThreadSafeContext(NULL);
    RedisModule_SelectDb(ctx, j->db);
    RedisModule_CreateTimer(ctx, 0, run_script, j);
    RedisModule_FreeThreadSafeContext(ctx);
}

/* A pool thread: pip.  A failure is the reply, and nothing runs. */
static void install(PoolJob *job) {
    InstallJob *j = (InstallJob *)job;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *texts = bytes_list(j->argv + j->first, j->argc - j->first);
    PyObject *r = texts ? PyObject_CallMethod(rt_requirements, "install", "Oi", texts, j->force) : NULL;
    CReply *err = r ? NULL : PyHost_ErrorReply();
    Py_XDECREF(r);
    Py_XDECREF(texts);
    PyGILState_Release(g);
    j->base.run = set_timer;
    if (!err && MainQ_Submit(&j->base) == REDISMODULE_OK) return;
    Waiter_Complete(j->waiter, err ? err : CReply_Error("ERR the server is shutting down"));
    install_job_free(j);
}

int Requirements_Prepare(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, int first, int force,
                         int may_block, FlowUser *user) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *texts = bytes_list(argv + first, argc - first);
    PyObject *todo = texts ? PyObject_CallMethod(rt_requirements, "to_install", "Oi", texts, force) : NULL;
    Py_ssize_t n = todo ? PyObject_Length(todo) : -1;
    CReply *err = n < 0 ? PyHost_ErrorReply() : NULL;
    Py_XDECREF(todo);
    Py_XDECREF(texts);
    PyGILState_Release(g);
    if (!err && n == 0) return 0;
    if (!err && !may_block)
        err = CReply_Error("ERR can not install requirements inside MULTI, Lua or while loading");
    InstallJob *j = err ? NULL : calloc(1, sizeof(*j));
    if (j) j->user = user;
    if (!err && (!j || !(j->argv = calloc((size_t)argc, sizeof(*j->argv)))))
        err = CReply_Error("ERR out of memory");
    if (err) {
        if (j) install_job_free(j); /* and the user */
        else FlowUser_Release(user);
        CReply_Send(ctx, err);
        CReply_Free(err);
        return 1;
    }
    j->argc = argc, j->first = first, j->force = force, j->db = RedisModule_GetSelectedDb(ctx);
    for (int i = 0; i < argc; i++) {
        size_t len;
        const char *p = RedisModule_StringPtrLen(argv[i], &len);
        j->argv[i] = RedisModule_CreateString(NULL, p, len);
    }
    j->base.run = install;
    j->waiter = Waiter_New(Waiter_Block(ctx));
    if (Pool_Submit(&j->base) != REDISMODULE_OK) {
        Waiter_Complete(j->waiter, CReply_Error("ERR the server is shutting down"));
        install_job_free(j);
    }
    return 1;
}

PyObject *Requirements_Restore(const char *blob, size_t len) {
    PyObject *r = PyObject_CallMethod(rt_requirements, "restore_saved", "y#", blob, (Py_ssize_t)len);
    if (!r) {
        PyHost_LogError("installing the requirements of a saved session");
        r = PyList_New(0);
    }
    return r;
}

/* ---- RG.PYDUMPREQS, RG.PYEXPORTREQ <name>, RG.PYIMPORTREQ <chunk>... ---- */

/* gears_requirements.command(op, args, waiter) replies through the waiter,
 * now or (RG.PYIMPORTREQ, which runs pip) from a pool thread. */
static int requirements_reply(RedisModuleCtx *ctx, const char *op, RedisModuleString **argv, int argc) {
    int may_block = !(RedisModule_GetContextFlags(ctx) &
                      (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA | REDISMODULE_CTX_FLAGS_DENY_BLOCKING));
    Waiter *w = Waiter_New(NULL);
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *cap = Waiter_Capsule(w);
    PyObject *args = bytes_list(argv, argc);
    PyObject *r = cap && args ? PyObject_CallMethod(rt_requirements, "command", "sOOi", op, args, cap, may_block)
                              : NULL;
    CReply *err = r ? NULL : PyHost_ErrorReply();
    Py_XDECREF(r);
    Py_XDECREF(args);
    Py_XDECREF(cap);
    PyGILState_Release(g);
    if (err) Waiter_Complete(w, err);
    Waiter_ReplyOrBlock(ctx, w, may_block);
    Waiter_Release(w);
    return REDISMODULE_OK;
}

static int dumpreqs_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return argc == 1 ? requirements_reply(ctx, "DUMP", argv + 1, 0) : RedisModule_WrongArity(ctx);
}

static int exportreq_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return argc == 2 ? requirements_reply(ctx, "EXPORT", argv + 1, 1) : RedisModule_WrongArity(ctx);
}

static int importreq_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return requirements_reply(ctx, "IMPORT", argv + 1, argc - 1);
}

/* ACL categories (common/command_acl.h): RG.PYIMPORTREQ installs code that
 * sessions then run, as the server's OS user: "dangerous". */
static const RMCommandSpec commands[] = {
    {"rg.pydumpreqs", dumpreqs_command, "readonly", 0, 0, 0, "read slow"},
    {"rg.pyexportreq", exportreq_command, "readonly", 0, 0, 0, "read slow"},
    {"rg.pyimportreq", importreq_command, "write", 0, 0, 0, "admin dangerous slow"},
};

int Requirements_Register(RedisModuleCtx *ctx) {
    return RMCommand_CreateAll(ctx, commands, sizeof(commands) / sizeof(commands[0]));
}
