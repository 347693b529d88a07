/* commands.c -- RG.PYEXECUTE, RG.TRIGGER, RG.UNREGISTER, and the
 * results of UNBLOCKING executions (RG.GETRESULTS[BLOCKING], RG.DROPEXECUTION,
 * RG.DUMPEXECUTIONS).
 *
 * Every command runs on Redis's main thread with the Redis lock held; Python
 * is entered with PyGILState_Ensure (lock order: Redis lock, then GIL).  An
 * async execution blocks its client and runs on the pool; the reply travels
 * back through a Waiter (waiter.c). */
#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host.h"

#define NO_ASYNC_ERR                                                                   \
    "ERR can not run a non-sync execution inside a MULTI/LUA (blocking is not allowed) " \
    "or on loading."

/* MULTI, Lua, a client that can not block, or loading: only sync runs. */
static int async_allowed(RedisModuleCtx *ctx) {
    int flags = RedisModule_GetContextFlags(ctx);
    return !(flags & (REDISMODULE_CTX_FLAGS_MULTI | REDISMODULE_CTX_FLAGS_LUA |
                      REDISMODULE_CTX_FLAGS_DENY_BLOCKING | REDISMODULE_CTX_FLAGS_LOADING));
}

static PyObject *py_str(RedisModuleString *s) {
    size_t len;
    const char *p = RedisModule_StringPtrLen(s, &len);
    /* surrogateescape: arbitrary bytes survive str() and come back intact. */
    return PyUnicode_DecodeUTF8(p, (Py_ssize_t)len, "surrogateescape");
}

/* A new list of the strings, or NULL with the Python error set. */
static PyObject *py_str_list(RedisModuleString **strs, int n) {
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) {
        PyObject *s = py_str(strs[i]);
        if (!s) Py_CLEAR(list);
        else PyList_SET_ITEM(list, i, s);
    }
    return list;
}

void Commands_ReplyWithPyError(RedisModuleCtx *ctx) {
    CReply *r = PyHost_ErrorReply();
    CReply_Send(ctx, r);
    CReply_Free(r);
}

/* ---- RG.TRIGGER ---- */

typedef struct {
    PoolJob base;
    Reg *reg;
    FlowUser *user; /* the ACL user the flow acts for; NULL: full rights */
    Waiter *waiter;
    int argc, db; /* db: the caller's database */
    char **args; /* copies: the command's argv dies when the command returns */
    size_t *lens;
} TriggerJob;

static void trigger_job_free(TriggerJob *j) {
    FlowUser_Release(j->user);
    for (int i = 0; i < j->argc; i++) free(j->args[i]);
    free(j->args);
    free(j->lens);
    free(j);
}

/* The ACL user a flow started by this command acts for: the calling
 * client's, or for a module's call (a flow's execute('RG.TRIGGER', ...)),
 * the user of the code that made it.  A new reference; NULL: full rights. */
static FlowUser *caller_user(RedisModuleCtx *ctx) {
    FlowUser *u = FlowUser_OfCaller(ctx);
    if (u) return u;
    PyGILState_STATE g = PyGILState_Ensure();
    u = FlowUser_Current();
    PyGILState_Release(g);
    return u;
}

/* Calls runtime._trigger(handler, [trigger, args...], waiter, allow_async, db, user).
 * GIL held.  The runtime completes the waiter itself, also on failure. */
static void call_trigger(Reg *reg, PyObject *args, Waiter *w, int allow_async, int db, FlowUser *user) {
    PyObject *cap = Waiter_Capsule(w);
    PyObject *ucap = FlowUser_Capsule(FlowUser_Retain(user));
    PyObject *r = cap && ucap ? PyObject_CallFunction(rt_trigger, "OOOiiO", reg->handler, args, cap,
                                                      allow_async, db, ucap)
                              : NULL;
    if (!r) {
        PyHost_LogError("RG.TRIGGER");
        Waiter_Complete(w, CReply_Error("ERR the Python runtime failed to start the execution"));
    }
    Py_XDECREF(r);
    Py_XDECREF(cap);
    Py_XDECREF(ucap);
}

/* On a pool thread, or on the loop thread (LoopQ_Drain, GIL already held). */
static void trigger_job_run(PoolJob *job) {
    TriggerJob *j = (TriggerJob *)job;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args = PyList_New(j->argc);
    for (int i = 0; args && i < j->argc; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(j->args[i], (Py_ssize_t)j->lens[i], "surrogateescape");
        if (!s) Py_CLEAR(args);
        else PyList_SET_ITEM(args, i, s);
    }
    if (args) call_trigger(j->reg, args, j->waiter, 1, j->db, j->user);
    else {
        PyHost_LogError("RG.TRIGGER arguments");
        Waiter_Complete(j->waiter, CReply_Error("ERR could not convert the trigger arguments"));
    }
    Py_XDECREF(args);
    Registry_Release(j->reg);
    PyGILState_Release(g);
    Waiter_Release(j->waiter);
    trigger_job_free(j);
}

/* Queues the execution on the pool, or with `submit` = LoopQ_Submit on the
 * loop thread; either way without the GIL. */
static int run_async(RedisModuleCtx *ctx, Reg *reg, RedisModuleString **argv, int argc,
                     int (*submit)(PoolJob *)) {
    TriggerJob *j = calloc(1, sizeof(*j));
    if (!j) abort();
    j->base.run = trigger_job_run;
    j->reg = reg;
    j->argc = argc;
    j->args = calloc((size_t)argc, sizeof(char *));
    j->lens = calloc((size_t)argc, sizeof(size_t));
    if (!j->args || !j->lens) abort();
    for (int i = 0; i < argc; i++) {
        const char *p = RedisModule_StringPtrLen(argv[i], &j->lens[i]);
        j->args[i] = malloc(j->lens[i] + 1);
        if (!j->args[i]) abort();
        memcpy(j->args[i], p, j->lens[i]);
        j->args[i][j->lens[i]] = '\0';
    }
    j->db = RedisModule_GetSelectedDb(ctx);
    j->user = caller_user(ctx);
    j->waiter = Waiter_New(Waiter_Block(ctx));
    if (submit(&j->base) != REDISMODULE_OK) {
        Waiter_Complete(j->waiter, CReply_Error("ERR the server is shutting down"));
        Waiter_Release(j->waiter);
        PyGILState_STATE g = PyGILState_Ensure();
        Registry_Release(reg);
        PyGILState_Release(g);
        trigger_job_free(j);
    }
    return REDISMODULE_OK;
}

/* Sync flows that trigger sync flows (execute('RG.TRIGGER', ...)) nest on
 * the C stack, and each level's error wraps the inner one's traceback: an
 * endless recursion grew the reply by 4x a level, to 20 GB, and crashed.
 * Counted under the Redis lock, which every sync run holds. */
#define MAX_NESTED_SYNC 16
#define STR_(x) #x
#define STR(x) STR_(x)
static int nested_sync;

/* A sync registration runs right here, on the main thread, under the Redis
 * lock.  If it awaits, it goes on in the background and the client blocks. */
static int run_sync(RedisModuleCtx *ctx, Reg *reg, RedisModuleString **argv, int argc) {
    if (nested_sync >= MAX_NESTED_SYNC) {
        PyGILState_STATE g = PyGILState_Ensure();
        Registry_Release(reg);
        PyGILState_Release(g);
        return RedisModule_ReplyWithError(ctx, "ERR sync flows nested more than " STR(MAX_NESTED_SYNC) " deep (RG.TRIGGER from a flow)");
    }
    int may_block = async_allowed(ctx);
    Waiter *w = Waiter_New(NULL);
    FlowUser *user = caller_user(ctx);
    HostCmdScope scope = Host_CommandEnter(ctx);
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *args = py_str_list(argv, argc);
    nested_sync++;
    if (args) call_trigger(reg, args, w, may_block, RedisModule_GetSelectedDb(ctx), user);
    else {
        PyHost_LogError("RG.TRIGGER arguments");
        Waiter_Complete(w, CReply_Error("ERR could not convert the trigger arguments"));
    }
    nested_sync--;
    Py_XDECREF(args);
    Registry_Release(reg);
    FlowUser_Release(user);
    PyGILState_Release(g);
    Host_CommandExit(scope);
    Waiter_ReplyOrBlock(ctx, w, may_block);
    Waiter_Release(w);
    return REDISMODULE_OK;
}

int Commands_RunFlow(RedisModuleCtx *ctx, Reg *reg, RedisModuleString **record, int n) {
    int may_block = async_allowed(ctx);
    /* An async execution whose first step is `async def` starts on the
     * loop thread, where that step's coroutine runs.  A sync one runs here
     * and steps its coroutines here too (gears_loop.MainDriver). */
    if (reg->on_loop && may_block && reg->mode != MODE_SYNC)
        return run_async(ctx, reg, record, n, LoopQ_Submit);
    if (reg->mode == MODE_SYNC) return run_sync(ctx, reg, record, n);
    if (!may_block) {
        PyGILState_STATE g = PyGILState_Ensure();
        Registry_Release(reg);
        PyGILState_Release(g);
        return RedisModule_ReplyWithError(ctx, NO_ASYNC_ERR);
    }
    return run_async(ctx, reg, record, n, Pool_Submit);
}

static int trigger_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2) return RedisModule_WrongArity(ctx);
    size_t len;
    const char *name = RedisModule_StringPtrLen(argv[1], &len);
    Reg *reg = Registry_Find(name, len);
    if (!reg) return RedisModule_ReplyWithError(ctx, "ERR no such trigger");
    return Commands_RunFlow(ctx, reg, argv + 1, argc - 1);
}

static int triggeronkey_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 3) return RedisModule_WrongArity(ctx);
    return trigger_command(ctx, argv, argc);
}

/* ---- RG.PYEXECUTE "<code>" [ID id] [DESCRIPTION d] [UPGRADE] ... ---- */

typedef struct {
    RedisModuleString *id, *desc;
    int upgrade, unblocking, force, first_requirement;
} PyexecuteArgs;

/* NULL, or the error to reply. */
static const char *parse_pyexecute(RedisModuleString **argv, int argc, PyexecuteArgs *a) {
    *a = (PyexecuteArgs){.first_requirement = argc};
    for (int i = 2; i < argc; i++) {
        const char *opt = RedisModule_StringPtrLen(argv[i], NULL);
        if (!strcasecmp(opt, "ID") && i + 1 < argc) a->id = argv[++i];
        else if (!strcasecmp(opt, "DESCRIPTION") && i + 1 < argc) a->desc = argv[++i];
        else if (!strcasecmp(opt, "UPGRADE")) a->upgrade = 1;
        else if (!strcasecmp(opt, "UNBLOCKING")) a->unblocking = 1;
        else if (!strcasecmp(opt, "FORCE_REINSTALL_REQUIREMENTS")) a->force = 1;
        else if (!strcasecmp(opt, "REQUIREMENTS")) {
            a->first_requirement = i + 1; /* the rest of the arguments */
            break;
        } else if (!strcasecmp(opt, "REPLACE_WITH")) return "ERR REPLACE_WITH is not supported (use ID id UPGRADE)";
        else return "ERR unknown RG.PYEXECUTE argument";
    }
    return NULL;
}

void Commands_RunScript(RedisModuleCtx *ctx, RedisModuleString **argv, int argc, Waiter *blocked, FlowUser *user) {
    PyexecuteArgs a;
    const char *err = parse_pyexecute(argv, argc, &a);
    if (err) {
        FlowUser_Release(user);
        CReply *r = CReply_Error(err);
        if (blocked) Waiter_Complete(blocked, r);
        else CReply_Send(ctx, r), CReply_Free(r);
        return;
    }
    int may_block = blocked || async_allowed(ctx);
    Waiter *w = blocked ? blocked : Waiter_New(NULL);
    if (blocked) Waiter_Retain(w);
    HostCmdScope scope = Host_CommandEnter(ctx);
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *ucap = FlowUser_Capsule(user);
    PyObject *code = py_str(argv[1]);
    PyObject *pid = a.id ? py_str(a.id) : Py_NewRef(Py_None);
    PyObject *pdesc = a.desc ? py_str(a.desc) : Py_NewRef(Py_None);
    PyObject *reqs = py_str_list(argv + a.first_requirement, argc - a.first_requirement);
    PyObject *cap = Waiter_Capsule(w);
    ScriptStore_BeginChanges();
    PyObject *r = code && pid && pdesc && reqs && cap && ucap
                      ? PyObject_CallFunction(rt_pyexecute, "OOiOOiOssiOO", code, cap, may_block, pid, pdesc,
                                              a.upgrade, Py_False, "", "", a.unblocking, reqs, ucap)
                      : NULL;
    ScriptStore_PropagateChanges(ctx);
    const char *ex_id = r && PyUnicode_Check(r) ? PyUnicode_AsUTF8(r) : NULL; /* UNBLOCKING */
    int started = r && !ex_id && PyObject_IsTrue(r) == 1;
    CReply *reply = !r ? PyHost_ErrorReply()
                    : ex_id ? CReply_String(ex_id, strlen(ex_id))
                    : !started ? CReply_String("OK", 2)
                               : NULL;
    if (reply && !ex_id && r) reply->type = CR_STATUS;
    if (reply) Waiter_Complete(w, reply); /* else the execution replies; before the capsule goes */
    Py_XDECREF(r);
    Py_XDECREF(code);
    Py_XDECREF(pid);
    Py_XDECREF(pdesc);
    Py_XDECREF(reqs);
    Py_XDECREF(cap);
    Py_XDECREF(ucap);
    PyGILState_Release(g);
    Host_CommandExit(scope);
    if (!blocked) Waiter_ReplyOrBlock(ctx, w, may_block);
    Waiter_Release(w);
}

static int pyexecute_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc < 2) return RedisModule_WrongArity(ctx);
    PyexecuteArgs a;
    const char *err = parse_pyexecute(argv, argc, &a);
    if (err) return RedisModule_ReplyWithError(ctx, err);
    /* Requirements to install first: the script runs when pip is done,
     * for the user who sent it. */
    FlowUser *user = caller_user(ctx);
    if (a.first_requirement < argc &&
        Requirements_Prepare(ctx, argv, argc, a.first_requirement, a.force, async_allowed(ctx), user))
        return REDISMODULE_OK;
    Commands_RunScript(ctx, argv, argc, NULL, user);
    return REDISMODULE_OK;
}

/* ---- executions started with UNBLOCKING (gears_results.py) ---- */

static int results_reply(RedisModuleCtx *ctx, const char *op, RedisModuleString *id) {
    int block = !strcmp(op, "BLOCK") && async_allowed(ctx);
    if (!strcmp(op, "BLOCK") && !block) op = "GET"; /* MULTI, Lua: no waiting */
    Waiter *w = Waiter_New(NULL);
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *cap = Waiter_Capsule(w);
    PyObject *pid = id ? py_str(id) : Py_NewRef(Py_None);
    PyObject *r = cap && pid ? PyObject_CallFunction(rt_results, "sOO", op, pid, cap) : NULL;
    if (!r) Commands_ReplyWithPyError(ctx);
    Py_XDECREF(r);
    Py_XDECREF(pid);
    Py_XDECREF(cap);
    PyGILState_Release(g);
    if (r) Waiter_ReplyOrBlock(ctx, w, block);
    Waiter_Release(w);
    return REDISMODULE_OK;
}

static int getresults_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return argc == 2 ? results_reply(ctx, "GET", argv[1]) : RedisModule_WrongArity(ctx);
}

static int getresultsblocking_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return argc == 2 ? results_reply(ctx, "BLOCK", argv[1]) : RedisModule_WrongArity(ctx);
}

static int dropexecution_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    return argc == 2 ? results_reply(ctx, "DROP", argv[1]) : RedisModule_WrongArity(ctx);
}

static int dumpexecutions_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    return argc == 1 ? results_reply(ctx, "DUMP", NULL) : RedisModule_WrongArity(ctx);
}

/* ---- registrations ---- */

static int unregister_command(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    size_t len;
    const char *id = RedisModule_StringPtrLen(argv[1], &len);
    Reg *reg = Registry_Remove(id, len);
    if (!reg) return RedisModule_ReplyWithError(ctx, "ERR execution does not exist");
    PyGILState_STATE g = PyGILState_Ensure();
    ScriptStore_BeginChanges();
    PyObject *r = PyObject_CallMethod(reg->handler, "forget", NULL);
    ScriptStore_PropagateChanges(ctx);
    if (!r) PyHost_LogError("RG.UNREGISTER");
    Py_XDECREF(r);
    Registry_Release(reg); /* executions still running keep their own reference */
    PyGILState_Release(g);
    return RedisModule_ReplyWithSimpleString(ctx, "OK");
}

/* ACL categories: RG.PYEXECUTE runs the code it is sent, as the server's OS
 * user: "dangerous".  Running and removing registered flows is "scripting",
 * as FCALL and FUNCTION DELETE are. */
static const RMCommandSpec commands[] = {
    {"rg.pyexecute", pyexecute_command, "write", 0, 0, 0, "write dangerous scripting slow"},
    {"rg.trigger", trigger_command, "write", 0, 0, 0, "write scripting slow"},
    /* The same, with the key declared (ACLs, cluster routing): the record
     * is [trigger, key, args...] as for RG.TRIGGER. */
    {"rg.triggeronkey", triggeronkey_command, "write", 2, 2, 1, "write scripting slow"},
    {"rg.unregister", unregister_command, "write", 0, 0, 0, "write scripting slow"},
    {"rg.getresults", getresults_command, "readonly", 0, 0, 0, "read scripting slow"},
    {"rg.getresultsblocking", getresultsblocking_command, "readonly", 0, 0, 0, "read scripting slow"},
    {"rg.dropexecution", dropexecution_command, "write", 0, 0, 0, "write scripting slow"},
    {"rg.dumpexecutions", dumpexecutions_command, "readonly", 0, 0, 0, "read scripting slow"},
};

int Commands_Register(RedisModuleCtx *ctx) {
    return RMCommand_CreateAll(ctx, commands, sizeof(commands) / sizeof(commands[0]));
}
