/* key_events.c -- keyspace events that start KeysReader (and StreamReader)
 * executions.
 *
 * Two subscriptions, one for each reader: Redis does not call a subscriber
 * again while it runs, so a StreamReader must not share the KeysReader's,
 * or it would miss the entries a sync KeysReader flow adds.  The KeysReader's
 * takes every event class and key misses (not in the "all" mask), the
 * StreamReader's stream events.  Redis calls them with its lock held, on
 * whichever thread made the change (the main thread, or a thread of ours
 * writing under the lock); without a registration they return at once.  A matching async registration gets a pool job with
 * copies of the key and event name; a sync one runs right here, as
 * RedisGears does, and does not see the events its own execution causes
 * (they would start it again, without end).  Replicas start nothing: the
 * master's executions already made the writes they receive. */
#define PY_SSIZE_T_CLEAN /* Py_ssize_t lengths for the "y#" format */
#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

#define MAX_HITS 64 /* registrations one event can start */

static const char *key_type_names[] = {"none", "string", "list", "hash", "set", "zset", "module",
                                       "stream"};

typedef struct {
    PoolJob base;
    Reg *reg;
    char *key, *event;
    size_t keylen;
    PyObject *call; /* the watched command's call it is linked to (key_commands.c), or NULL */
} KeyJob;

/* runtime._on_key(handler, key, event, call): runs the flow on the one
 * record; `call` (may be NULL) is released.  GIL held. */
static void call_on_key(Reg *reg, const char *key, size_t keylen, const char *event, PyObject *call) {
    PyObject *r = PyObject_CallFunction(rt_on_key, "Oy#sO", reg->handler, key, (Py_ssize_t)keylen,
                                        event, call ? call : Py_None);
    if (!r) PyHost_LogError("KeysReader execution");
    Py_XDECREF(r);
    Py_XDECREF(call);
}

static void key_job_run(PoolJob *job) {
    KeyJob *j = (KeyJob *)job;
    PyGILState_STATE g = PyGILState_Ensure();
    call_on_key(j->reg, j->key, j->keylen, j->event, j->call);
    Registry_Release(j->reg);
    PyGILState_Release(g);
    free(j->key);
    free(j->event);
    free(j);
}

static void start_async(Reg *reg, const char *key, size_t keylen, const char *event, PyObject *call) {
    KeyJob *j = calloc(1, sizeof(*j));
    char *k = malloc(keylen + 1), *e = strdup(event);
    if (j && k && e) {
        memcpy(k, key, keylen);
        k[keylen] = '\0';
        *j = (KeyJob){.base.run = key_job_run, .reg = reg, .key = k, .event = e, .keylen = keylen,
                      .call = call};
        if (Pool_Submit(&j->base) == REDISMODULE_OK) return;
    }
    free(j);
    free(k);
    free(e);
    PyGILState_STATE g = PyGILState_Ensure(); /* not started: out of memory or shutting down */
    if (call) { /* its client waits for no execution */
        PyObject *r = PyObject_CallMethod(call, "execution_done", NULL);
        if (!r) PyHost_LogError("KeysReader execution not started");
        Py_XDECREF(r);
        Py_DECREF(call);
    }
    Registry_Release(reg);
    PyGILState_Release(g);
}

/* The flow's own commands are not the watched command that raised the event. */
static void run_sync(RedisModuleCtx *ctx, Reg *reg, const char *key, size_t keylen,
                     const char *event, PyObject *call) {
    reg->running_sync = 1; /* under the Redis lock, as every read of it */
    KeyCall *watched = KeyCommands_Swap(NULL);
    HostCmdScope scope = Host_CommandEnter(ctx);
    PyGILState_STATE g = PyGILState_Ensure();
    call_on_key(reg, key, keylen, event, call);
    reg->running_sync = 0;
    Registry_Release(reg); /* may free it: unregistered by its own flow */
    PyGILState_Release(g);
    Host_CommandExit(scope);
    KeyCommands_Swap(watched);
}

/* A link to the watched command's client for an execution of `reg`, or NULL. */
static PyObject *link_to_command(Reg *reg, KeyCall *watched) {
    if (!reg->commands || !watched || !watched->may_block) return NULL;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *call = KeyCommands_Link(watched);
    PyGILState_Release(g);
    return call;
}

/* Looked up before the registry's mutex is taken: opening a key that has
 * expired deletes it and raises an "expired" event, which comes back here. */
static int key_type_of(RedisModuleCtx *ctx, RedisModuleString *key) {
    RedisModuleKey *k = RedisModule_OpenKey(ctx, key, REDISMODULE_READ);
    int type = k ? RedisModule_KeyType(k) : REDISMODULE_KEYTYPE_EMPTY;
    if (k) RedisModule_CloseKey(k);
    return type >= 0 && type <= REDISMODULE_KEYTYPE_STREAM ? type : REDISMODULE_KEYTYPE_EMPTY;
}

static int on_event(RedisModuleCtx *ctx, int reader, const char *event, RedisModuleString *key) {
    if (!Registry_HasKeys()) return REDISMODULE_OK;
    if (RedisModule_GetContextFlags(ctx) & (REDISMODULE_CTX_FLAGS_SLAVE | REDISMODULE_CTX_FLAGS_LOADING))
        return REDISMODULE_OK;
    size_t len;
    const char *name = RedisModule_StringPtrLen(key, &len);
    Reg *hits[MAX_HITS];
    int key_type = Registry_HasKeyTypes() ? key_type_of(ctx, key) : -1;
    KeyCall *watched = KeyCommands_Current();
    size_t n = Registry_MatchKeys(reader, watched ? watched->name : NULL, name, len, event, key_type, hits,
                                  MAX_HITS);
    for (size_t i = 0; i < n; i++) {
        if (hits[i]->user && !FlowUser_Exists(hits[i]->user, ctx)) { /* RG.DUMPREGISTRATIONS says so */
            hits[i]->triggered--; /* it started nothing */
            PyGILState_STATE g = PyGILState_Ensure();
            Registry_Release(hits[i]);
            PyGILState_Release(g);
            continue;
        }
        PyObject *call = link_to_command(hits[i], watched);
        if (hits[i]->mode == MODE_SYNC) run_sync(ctx, hits[i], name, len, event, call);
        else start_async(hits[i], name, len, event, call);
    }
    return REDISMODULE_OK;
}

static int on_keys_event(RedisModuleCtx *ctx, int class, const char *event, RedisModuleString *key) {
    (void)class;
    return on_event(ctx, READER_KEYS, event, key);
}

static int on_stream_event(RedisModuleCtx *ctx, int class, const char *event, RedisModuleString *key) {
    (void)class;
    return on_event(ctx, READER_STREAM, event, key);
}

int KeyEvents_Subscribe(RedisModuleCtx *ctx) {
    if (RedisModule_SubscribeToKeyspaceEvents(ctx, REDISMODULE_NOTIFY_ALL | REDISMODULE_NOTIFY_KEY_MISS,
                                              on_keys_event) != REDISMODULE_OK)
        return REDISMODULE_ERR;
    return RedisModule_SubscribeToKeyspaceEvents(ctx, REDISMODULE_NOTIFY_STREAM, on_stream_event);
}

/* A NULL-terminated copy of a list of str, or NULL for None. */
static int str_list(PyObject *list, char ***out) {
    *out = NULL;
    if (list == Py_None) return 0;
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "expected a list of str or None");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(list);
    char **v = calloc((size_t)n + 1, sizeof(*v));
    if (!v) return PyErr_NoMemory(), -1;
    *out = v;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *s = PyUnicode_Check(PyList_GET_ITEM(list, i))
                            ? PyUnicode_AsUTF8(PyList_GET_ITEM(list, i))
                            : NULL;
        if (!s) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "expected a list of str");
            return -1;
        }
        if (!(v[i] = strdup(s))) return PyErr_NoMemory(), -1;
    }
    return 0;
}

/* commands=[...]: the names (lower case) and, for each, COMMAND INFO's
 * (arity, first key, last key, key step, writes), as a hook has them. */
static int watched_commands(Reg *r, PyObject *names, PyObject *specs) {
    if (str_list(names, &r->commands) < 0) return -1;
    if (!r->commands) return 0;
    Py_ssize_t n = PyList_GET_SIZE(names);
    if (!PyList_Check(specs) || PyList_GET_SIZE(specs) != n) {
        PyErr_SetString(PyExc_TypeError, "expected one command spec per command");
        return -1;
    }
    if (!(r->command_specs = calloc((size_t)n + 1, sizeof(*r->command_specs)))) return PyErr_NoMemory(), -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        HookSpec *k = &r->command_specs[i];
        if (!PyArg_ParseTuple(PyList_GET_ITEM(specs, i), "iiiip", &k->arity, &k->first_key, &k->last_key,
                              &k->key_step, &k->write))
            return -1;
    }
    return 0;
}

PyObject *KeyEvents_Register(PyObject *args) {
    const char *id, *prefix, *mode, *desc = NULL;
    PyObject *handler, *events, *types, *user, *commands = Py_None, *specs = Py_None;
    int on_loop = 0, stream = 0;
    if (!PyArg_ParseTuple(args, "sssOzpOOpO|OO", &id, &prefix, &mode, &handler, &desc, &on_loop, &events,
                          &types, &stream, &user, &commands, &specs))
        return NULL;
    int m = Mode_Parse(mode);
    if (m < 0) {
        PyErr_SetString(PyExc_ValueError, "unknown execution mode");
        return NULL;
    }
    Reg *r = Reg_New(stream ? READER_STREAM : READER_KEYS, id, prefix, desc, m, on_loop, handler);
    if (!r) return PyErr_NoMemory();
    r->user = FlowUser_Retain(FlowUser_FromCapsule(user));
    char **type_names = NULL;
    const char *err = NULL;
    if (str_list(events, &r->event_types) < 0 || str_list(types, &type_names) < 0 ||
        watched_commands(r, commands, specs) < 0)
        goto fail;
    for (char **t = type_names; t && *t; t++) {
        int known = 0;
        for (int k = 1; k <= REDISMODULE_KEYTYPE_STREAM; k++)
            if (strcmp(*t, key_type_names[k]) == 0) r->key_types |= 1u << k, known = 1;
        if (!known) {
            PyErr_Format(PyExc_ValueError, "unknown key type %s", *t);
            goto fail;
        }
    }
    for (char **t = type_names; t && *t; t++) free(*t);
    free(type_names);
    if (Registry_Add(r, &err) != REDISMODULE_OK) {
        Reg_Free(r);
        PyErr_SetString(PyExc_RuntimeError, err);
        return NULL;
    }
    Py_RETURN_NONE;
fail:
    for (char **t = type_names; t && *t; t++) free(*t);
    free(type_names);
    Reg_Free(r);
    return NULL;
}
